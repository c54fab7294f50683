package roles

import (
	"github.com/hostflow/hostflow/agent"
	"github.com/hostflow/hostflow/internal/privs"
)

// agentCapabilities is what the agent needs for as long as it runs:
//   - cap_net_raw: an AF_PACKET socket per sampled interface, at start and
//     for every interface that appears later (rescan);
//   - cap_sys_ptrace and cap_dac_read_search, with process attribution:
//     reading /proc/<pid>/fd and exe of other users' processes, at every
//     lookup;
//   - cap_net_admin, with NFLOG only: binding the netfilter log group.
//
// Nothing else: the BPF filter, the packet ring, interface statistics
// (rtnetlink), sock_diag and the export socket need no capability.
func agentCapabilities(c *agent.Config) privs.Set {
	keep := privs.Of(privs.NetRaw)
	if c.Process.Enabled {
		keep |= privs.Of(privs.SysPtrace, privs.DacReadSearch)
	}
	if c.NFLOG.Group != 0 {
		keep |= privs.Of(privs.NetAdmin)
	}
	return keep
}
