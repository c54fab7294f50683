// The API counts filter positions in UTF-8 bytes (Go strings); the editor
// in UTF-16 code units. These convert between the two.

const encoder = new TextEncoder();

/** charToByte is the UTF-8 byte offset of string index i. */
export function charToByte(s: string, i: number): number {
  return encoder.encode(s.slice(0, i)).length;
}

/** byteToChar is the string index of UTF-8 byte offset b (clamped). */
export function byteToChar(s: string, b: number): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    if (bytes >= b) return i;
    const c = s.codePointAt(i)!;
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (c >= 0x10000) i++;
  }
  return s.length;
}
