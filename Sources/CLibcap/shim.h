// libcap (POSIX.1e capability sets): cap_get_proc / cap_set_flag / cap_set_proc.
#pragma once
#include <sys/capability.h>
