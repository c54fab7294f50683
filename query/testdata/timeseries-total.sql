-- timeseries on flows_5m
SELECT intDiv(toUInt32(TimeReceived), 600) * 600 AS t, 1 AS k, sum(Packets * SamplingRate) AS v
FROM hostflow.flows_5m
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND 1
GROUP BY t
ORDER BY t;
-- params: p1=1795780800 p2=1795867200

