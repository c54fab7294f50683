#!/usr/bin/env bash
# Regenerates the exporter captures in this directory: runs
# TestNetFlowRealExporters (root: network namespaces, softflowd, pmacctd,
# iperf3, tcpdump) with a tcpdump on the collector side of each exporter,
# then the golden files of the decoder's fixture test and the fuzz seeds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
rm -f "$here"/*.pcap
go test -count=1 -run '^TestNetFlowRealExporters$' ./decoder -args -netflow-pcaps="$here"
go test -count=1 -run '^TestNetFlowFixtures$' ./decoder -args -update
go test -count=1 -run '^TestFuzzSeeds$' ./netflow -args -update
ls -l "$here"/*.pcap
