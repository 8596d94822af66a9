// One BPF program: returns 0 on every raw syscall entry.
#include <linux/version.h>

#define SEC(name) __attribute__((section(name), used))

SEC("raw_tracepoint/sys_enter")
int probe_sys_enter(void *ctx)
{
	return 0;
}

char probe_license[] SEC("license") = "GPL";
unsigned int probe_version SEC("version") = LINUX_VERSION_CODE;
