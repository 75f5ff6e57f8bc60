package redis

import (
	"testing"
	"time"
)

func TestParseInfoCPU(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\nused_cpu_sys_children:9.000000\r\n"
	if d, err := parseInfoCPU(info); err != nil || d != 1750*time.Millisecond {
		t.Errorf("parseInfoCPU = %s, %v; want 1.75s", d, err)
	}
	for _, bad := range []string{
		"",
		"# CPU\r\nused_cpu_sys:1.5\r\n",
		"used_cpu_sys:x\r\nused_cpu_user:1\r\n",
		"used_cpu_sys:-1\r\nused_cpu_user:1\r\n",
	} {
		if _, err := parseInfoCPU(bad); err == nil {
			t.Errorf("parseInfoCPU(%q) succeeded", bad)
		}
	}
}
