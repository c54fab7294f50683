package detect

const helperEnv = "HOSTFLOW_TEST_HELPER"

func runHelper() int { return 2 }
