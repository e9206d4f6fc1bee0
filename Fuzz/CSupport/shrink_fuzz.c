// See include/shrink_fuzz.h: the declaration is all this target provides.
#include "shrink_fuzz.h"
