-- hosts-traffic on flows_1h
SELECT HostName, any(ExporterAddress), sumIf(Bytes * SamplingRate * 8, FlowDirection = 1) AS inb, sumIf(Bytes * SamplingRate * 8, FlowDirection = 2) AS outb, sumIf(Packets * SamplingRate, FlowDirection = 1), sumIf(Packets * SamplingRate, FlowDirection = 2), count()
FROM hostflow.flows_1h
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND 1 AND HostName != '' AND HostName = {p3:String}
GROUP BY HostName
ORDER BY inb + outb DESC, HostName
LIMIT 100;
-- params: p1=1795780800 p2=1795867200 p3=web-1

-- hosts-processes on flows_1h
SELECT HostName, ProcessName AS k, sum(Bytes * SamplingRate * 8) AS v
FROM hostflow.flows_1h
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND 1 AND HostName != '' AND HostName = {p3:String}
GROUP BY HostName, k
ORDER BY v DESC, k
LIMIT 5 BY HostName;
-- params: p1=1795780800 p2=1795867200 p3=web-1

-- hosts-peers on flows
SELECT HostName, if(FlowDirection = 2, DstAddr, SrcAddr) AS k, sum(Bytes * SamplingRate * 8) AS v
FROM hostflow.flows
WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND 1 AND HostName != '' AND HostName = {p3:String}
GROUP BY HostName, k
ORDER BY v DESC, k
LIMIT 5 BY HostName;
-- params: p1=1795780800 p2=1795867200 p3=web-1

-- hosts-new-peers on flows
SELECT HostName, k, sum(cur) AS v, count() OVER (PARTITION BY HostName) AS n
FROM (
  SELECT HostName, if(FlowDirection = 2, DstAddr, SrcAddr) AS k, TimeReceived >= toDateTime({p4:UInt32}) AS current, if(current, Bytes * SamplingRate * 8, 0) AS cur
  FROM hostflow.flows
  WHERE TimeReceived >= toDateTime({p1:UInt32}) AND TimeReceived < toDateTime({p2:UInt32}) AND 1 AND HostName != '' AND HostName = {p3:String}
)
GROUP BY HostName, k
HAVING min(current) = 1
ORDER BY v DESC, k
LIMIT 5 BY HostName;
-- params: p1=1795694400 p2=1795867200 p3=web-1 p4=1795780800

-- hosts-health on host_counters
SELECT HostName, max(TimeReceived), argMax(LoadOne, TimeReceived), argMax(CPUNum, TimeReceived), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, CPUUserMs + CPUNiceMs + CPUSystemMs + CPUWioMs + CPUIntrMs + CPUSintrMs + CPUStealMs))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, CPUUserMs + CPUNiceMs + CPUSystemMs + CPUWioMs + CPUIntrMs + CPUSintrMs + CPUStealMs + CPUIdleMs))))))), argMax(MemTotal, TimeReceived), argMax(MemFree + MemCached + MemBuffers, TimeReceived), argMax(DiskPartMaxUsed, TimeReceived), argMax(UptimeSeconds, TimeReceived), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, TCPRetransSegs))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, TCPOutSegs))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, NetErrsIn + NetErrsOut))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, NetDropsIn + NetDropsOut))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, UDPRcvbufErrors)))))))
FROM hostflow.host_counters
WHERE TimeReceived >= toDateTime({p2:UInt32}) AND TimeReceived < toDateTime({p3:UInt32}) AND HostName IN ({p1:String})
GROUP BY HostName;
-- params: p1=web-1 p2=1795780800 p3=1795867200

-- hosts-interfaces on interface_counters
SELECT ExporterAddress, IfName, argMax(IfKind, TimeReceived), argMax(IfSpeed, TimeReceived), max(TimeReceived) - min(TimeReceived), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, InOctets))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, OutOctets))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, InErrors))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, OutErrors))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, InDiscards))))))), arraySum(arrayMap(d -> greatest(d, 0), arrayDifference(arrayMap(x -> toInt64(x.2), arraySort(groupArray((TimeReceived, OutDiscards)))))))
FROM hostflow.interface_counters
WHERE TimeReceived >= toDateTime({p2:UInt32}) AND TimeReceived < toDateTime({p3:UInt32}) AND ExporterAddress IN ({p1:IPv6})
GROUP BY ExporterAddress, IfName
ORDER BY ExporterAddress, IfName;
-- params: p1=::ffff:192.0.2.1 p2=1795780800 p3=1795867200

-- hosts-cpu on host_counters
SELECT HostName, intDiv(t, 1800) * 1800 AS b, sumIf(dbusy, dt > 0 AND dup >= 0 AND dbusy >= 0 AND didle >= 0), sumIf(dbusy + didle, dt > 0 AND dup >= 0 AND dbusy >= 0 AND didle >= 0)
FROM (
  SELECT *, t - lagInFrame(t, 1, t) OVER w AS dt, cup - lagInFrame(cup, 1, cup) OVER w AS dup, cbusy - lagInFrame(cbusy, 1, cbusy) OVER w AS dbusy, cidle - lagInFrame(cidle, 1, cidle) OVER w AS didle
  FROM (
    SELECT toInt64(toUInt32(TimeReceived)) AS t, HostName, ExporterAddress, SubAgentID, toInt64(UptimeSeconds) AS cup, toInt64(CPUUserMs + CPUNiceMs + CPUSystemMs + CPUWioMs + CPUIntrMs + CPUSintrMs + CPUStealMs) AS cbusy, toInt64(CPUIdleMs) AS cidle
    FROM hostflow.host_counters
    WHERE HostName IN ({p1:String}) AND TimeReceived >= toDateTime({p2:UInt32}) AND TimeReceived < toDateTime({p3:UInt32})
  )
  WINDOW w AS (PARTITION BY HostName, ExporterAddress, SubAgentID ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE t >= {p4:UInt32}
GROUP BY HostName, b
ORDER BY HostName, b;
-- params: p1=web-1 p2=1795780200 p3=1795867200 p4=1795780800

