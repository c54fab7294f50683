// What a new user sees before any flow arrived: how to send some.
import { Empty } from './common';

export function NoFlows() {
  const host = location.hostname || 'this-collector';
  return (
    <Empty title="No flows yet">
      <p>This collector has not stored any flow in the last 24 hours. Point something at its UDP ports:</p>
      <ul>
        <li>
          <strong>hostflow agents</strong> (per-process traffic and host health): install hostflow on each host and run{' '}
          <code>hostflow agent -c /etc/hostflow/agent.yaml</code> with
          <pre>{`collectors: ["${host}:6343"]`}</pre>
          On a single machine, <code>hostflow standalone</code> runs the agent, the collector and this console together.
        </li>
        <li>
          <strong>Routers, switches and other agents</strong> (hsflowd, pmacct, softflowd): send sFlow v5 to UDP port{' '}
          <code>6343</code>, NetFlow v5/v9 to <code>2055</code>, IPFIX to <code>4739</code>.
        </li>
        <li>
          Still nothing after a minute? Check the collector's metrics (<code>/metrics</code>, counters{' '}
          <code>hostflow_inlet_*</code>) for received and dropped datagrams, and a firewall in between.
        </li>
      </ul>
      <p>
        Read more: <a href="/help/agent">the agent</a>, <a href="/help/decoding">supported exporters</a>.
      </p>
    </Empty>
  );
}
