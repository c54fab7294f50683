-- timeseries on flows
SELECT intDiv(toUInt32(TimeReceived), 30) * 30 AS t, DstAddr IN (
  SELECT DstAddr FROM hostflow.flows WHERE TimeReceived >= toDateTime({p5:UInt32}) AND TimeReceived < toDateTime({p6:UInt32}) AND toUInt128(SrcAddr) BETWEEN {p7:UInt128} AND {p8:UInt128} GROUP BY DstAddr ORDER BY sum((Bytes + 38 * Packets) * SamplingRate * 8) DESC, DstAddr
  LIMIT 10
) AS k, if(k, DstAddr, defaultValueOfArgumentType(DstAddr)) AS d0, sum((Bytes + 38 * Packets) * SamplingRate * 8) AS v
FROM hostflow.flows
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND toUInt128(SrcAddr) BETWEEN {p3:UInt128} AND {p4:UInt128}
GROUP BY t, k, d0
ORDER BY t;
-- params: p1=1795863600 p2=1795867200 p3=42540766411282592856903984951653826560 p4=42540766490510755371168322545197776895 p5=1795867170 p6=1795867200 p7=42540766411282592856903984951653826560 p8=42540766490510755371168322545197776895

