#include "cshaolin.h"
