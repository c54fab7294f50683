-- timeseries on flows_5m
SELECT t, r, any(d0) AS l0, any(d1) AS l1, sum(v) AS v
FROM (
  SELECT t, d0, d1, v, least(dense_rank() OVER (ORDER BY score DESC, d0, d1), 11) AS r
  FROM (
    SELECT t, d0, d1, v, sum(v) OVER (PARTITION BY d0, d1) AS score
    FROM (
      SELECT intDiv(toUInt32(TimeReceived), 600) * 600 AS t, SrcAS AS d0, InIfName AS d1, sum(Bytes * SamplingRate * 8) AS v
      FROM hostflow.flows_5m
      WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (InIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String})
      GROUP BY t, d0, d1
    )
  )
)
GROUP BY t, r
ORDER BY t, r;
-- params: p1=1795780800 p2=1795867200 p3=1 p4=edge-%

-- timeseries-reverse on flows_5m
SELECT t, r, any(d0) AS l0, any(d1) AS l1, sum(v) AS v
FROM (
  SELECT t, d0, d1, v, least(dense_rank() OVER (ORDER BY score DESC, d0, d1), 11) AS r
  FROM (
    SELECT t, d0, d1, v, sum(v) OVER (PARTITION BY d0, d1) AS score
    FROM (
      SELECT intDiv(toUInt32(TimeReceived), 600) * 600 AS t, DstAS AS d0, OutIfName AS d1, sum(Bytes * SamplingRate * 8) AS v
      FROM hostflow.flows_5m
      WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (OutIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String})
      GROUP BY t, d0, d1
    )
  )
)
GROUP BY t, r
ORDER BY t, r;
-- params: p1=1795780800 p2=1795867200 p3=1 p4=edge-%

-- timeseries-previous on flows_5m
SELECT intDiv(toUInt32(TimeReceived), 600) * 600 AS t, 0 AS r, sum(Bytes * SamplingRate * 8) AS v
FROM hostflow.flows_5m
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND (InIfBoundary = {p3:UInt8} AND ExporterName LIKE {p4:String})
GROUP BY t
ORDER BY t;
-- params: p1=1795176000 p2=1795262400 p3=1 p4=edge-%

