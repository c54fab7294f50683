package detect

import "flag"

var benchDir = flag.String("detect.dir", "", "engine directory kept between benchmark runs (default: a temporary one)")
