-- timeseries on flows
SELECT t, r, any(d0) AS l0, sum(v) AS v
FROM (
  SELECT t, d0, v, least(dense_rank() OVER (ORDER BY score DESC, d0), 11) AS r
  FROM (
    SELECT t, d0, v, sum(if(t = {p5:UInt32}, v, 0)) OVER (PARTITION BY d0) AS score
    FROM (
      SELECT intDiv(toUInt32(TimeReceived), 30) * 30 AS t, DstAddr AS d0, sum((Bytes + 38 * Packets) * SamplingRate * 8) AS v
      FROM hostflow.flows
      WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND toUInt128(SrcAddr) BETWEEN {p3:UInt128} AND {p4:UInt128}
      GROUP BY t, d0
    )
  )
)
GROUP BY t, r
ORDER BY t, r;
-- params: p1=1795863600 p2=1795867200 p3=42540766411282592856903984951653826560 p4=42540766490510755371168322545197776895 p5=1795867170

