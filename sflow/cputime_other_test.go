//go:build !unix

package sflow

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
