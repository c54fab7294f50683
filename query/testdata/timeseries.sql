-- timeseries on flows_5m
SELECT intDiv(toUInt32(TimeReceived), 600) * 600 AS t, (SrcAS, InIfName) IN (
  SELECT SrcAS, InIfName FROM hostflow.flows_5m WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (InIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String}) GROUP BY SrcAS, InIfName ORDER BY sum(Bytes * SamplingRate * 8) DESC, SrcAS, InIfName
  LIMIT 10
) AS k, if(k, SrcAS, defaultValueOfArgumentType(SrcAS)) AS d0, if(k, InIfName, defaultValueOfArgumentType(InIfName)) AS d1, sum(Bytes * SamplingRate * 8) AS v
FROM hostflow.flows_5m
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (InIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String})
GROUP BY t, k, d0, d1
ORDER BY t;
-- params: p1=1795780800 p2=1795867200 p3=1 p4=edge-%

-- timeseries-reverse on flows_5m
SELECT intDiv(toUInt32(TimeReceived), 600) * 600 AS t, (DstAS, OutIfName) IN (
  SELECT DstAS, OutIfName FROM hostflow.flows_5m WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (OutIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String}) GROUP BY DstAS, OutIfName ORDER BY sum(Bytes * SamplingRate * 8) DESC, DstAS, OutIfName
  LIMIT 10
) AS k, if(k, DstAS, defaultValueOfArgumentType(DstAS)) AS d0, if(k, OutIfName, defaultValueOfArgumentType(OutIfName)) AS d1, sum(Bytes * SamplingRate * 8) AS v
FROM hostflow.flows_5m
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (OutIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String})
GROUP BY t, k, d0, d1
ORDER BY t;
-- params: p1=1795780800 p2=1795867200 p3=1 p4=edge-%

-- timeseries-previous on flows_5m
SELECT intDiv(toUInt32(TimeReceived), 600) * 600 AS t, 1 AS k, sum(Bytes * SamplingRate * 8) AS v
FROM hostflow.flows_5m
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (InIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String})
GROUP BY t
ORDER BY t;
-- params: p1=1795176000 p2=1795262400 p3=1 p4=edge-%

