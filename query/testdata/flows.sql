-- flows on flows
SELECT TimeReceived, ExporterName, HostName, ProcessName, InIfName, OutIfName, SrcAddr, DstAddr, Proto, SrcPort, DstPort, Bytes * SamplingRate AS Bytes, Packets * SamplingRate AS Packets, SamplingRate
FROM hostflow.flows
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND HostName = {p3:String}
ORDER BY TimeReceived DESC, ExporterName, HostName, ProcessName, InIfName, OutIfName, SrcAddr, DstAddr, Proto, SrcPort, DstPort, Bytes, Packets, SamplingRate
LIMIT 51 OFFSET 100;
-- params: p1=1795780800 p2=1795867200 p3=web-1

