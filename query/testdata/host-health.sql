-- host-health on host_counters
SELECT intDiv(t, 600) * 600 AS b, count(), avg(LoadOne), max(CPUNum), avgIf(memused, MemTotal > 0), avgIf(100 * memused / MemTotal, MemTotal > 0), max(DiskPartMaxUsed) / 100, sumIf(dbusy, dt > 0 AND dup >= 0 AND dbusy >= 0 AND didle >= 0), sumIf(dbusy + didle, dt > 0 AND dup >= 0 AND dbusy >= 0 AND didle >= 0), sumIf(dretrans, dt > 0 AND dup >= 0 AND dretrans >= 0 AND doutsegs >= 0), sumIf(doutsegs, dt > 0 AND dup >= 0 AND dretrans >= 0 AND doutsegs >= 0), sumIf(dt, dt > 0 AND dup >= 0 AND dretrans >= 0 AND doutsegs >= 0), sumIf(derrors, dt > 0 AND dup >= 0 AND derrors >= 0 AND ddrops >= 0), sumIf(ddrops, dt > 0 AND dup >= 0 AND derrors >= 0 AND ddrops >= 0), sumIf(dt, dt > 0 AND dup >= 0 AND derrors >= 0 AND ddrops >= 0)
FROM (
  SELECT *, t - lagInFrame(t, 1, t) OVER w AS dt, cup - lagInFrame(cup, 1, cup) OVER w AS dup, cbusy - lagInFrame(cbusy, 1, cbusy) OVER w AS dbusy, cidle - lagInFrame(cidle, 1, cidle) OVER w AS didle, cretrans - lagInFrame(cretrans, 1, cretrans) OVER w AS dretrans, coutsegs - lagInFrame(coutsegs, 1, coutsegs) OVER w AS doutsegs, cerrors - lagInFrame(cerrors, 1, cerrors) OVER w AS derrors, cdrops - lagInFrame(cdrops, 1, cdrops) OVER w AS ddrops
  FROM (
    SELECT toInt64(toUInt32(TimeReceived)) AS t, ExporterAddress, SubAgentID, LoadOne, CPUNum, MemTotal, toInt64(MemTotal) - toInt64(MemFree + MemCached + MemBuffers) AS memused, DiskPartMaxUsed, toInt64(UptimeSeconds) AS cup, toInt64(CPUUserMs + CPUNiceMs + CPUSystemMs + CPUWioMs + CPUIntrMs + CPUSintrMs + CPUStealMs) AS cbusy, toInt64(CPUIdleMs) AS cidle, toInt64(TCPRetransSegs) AS cretrans, toInt64(TCPOutSegs) AS coutsegs, toInt64(NetErrsIn + NetErrsOut) AS cerrors, toInt64(NetDropsIn + NetDropsOut) AS cdrops
    FROM hostflow.host_counters
    WHERE HostName = {p1:String} AND TimeReceived >= toDateTime({p2:UInt32}) AND TimeReceived < toDateTime({p3:UInt32})
  )
  WINDOW w AS (PARTITION BY ExporterAddress, SubAgentID ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE t >= {p4:UInt32}
GROUP BY b
ORDER BY b;
-- params: p1=web-1 p2=1795780200 p3=1795867200 p4=1795780800

-- host-health-interfaces on interface_counters
SELECT intDiv(t, 600) * 600 AS b, name, argMax(IfKind, t), argMax(IfSpeed, t), sumIf(din, dt > 0 AND din >= 0), sumIf(dt, dt > 0 AND din >= 0), sumIf(dout, dt > 0 AND dout >= 0), sumIf(dt, dt > 0 AND dout >= 0)
FROM (
  SELECT *, t - lagInFrame(t, 1, t) OVER w AS dt, cin - lagInFrame(cin, 1, cin) OVER w AS din, cout - lagInFrame(cout, 1, cout) OVER w AS dout
  FROM (
    SELECT toInt64(toUInt32(TimeReceived)) AS t, ExporterAddress, SubAgentID, IfIndex, if(IfName != '', IfName, toString(IfIndex)) AS name, IfKind, IfSpeed, toInt64(InOctets) AS cin, toInt64(OutOctets) AS cout
    FROM hostflow.interface_counters
    WHERE ExporterAddress IN (SELECT ExporterAddress FROM hostflow.host_counters WHERE HostName = {p1:String} AND TimeReceived >= toDateTime({p2:UInt32}) AND TimeReceived < toDateTime({p3:UInt32})) AND TimeReceived >= toDateTime({p2:UInt32}) AND TimeReceived < toDateTime({p3:UInt32})
  )
  WINDOW w AS (PARTITION BY ExporterAddress, SubAgentID, IfIndex ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE t >= {p4:UInt32}
GROUP BY b, name
ORDER BY name, b;
-- params: p1=web-1 p2=1795780200 p3=1795867200 p4=1795780800

