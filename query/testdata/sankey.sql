-- sankey on flows_1h
SELECT r, any(d0) AS l0, any(d1) AS l1, any(d2) AS l2, sum(v) AS v
FROM (
  SELECT d0, d1, d2, v, least(row_number() OVER (ORDER BY v DESC, d0, d1, d2), 21) AS r
  FROM (
    SELECT SrcCountry AS d0, DstAS AS d1, Proto AS d2, sum(Flows) AS v
    FROM hostflow.flows_1h
    WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND 1
    GROUP BY d0, d1, d2
  )
)
GROUP BY r
ORDER BY r;
-- params: p1=1795780800 p2=1795867200

