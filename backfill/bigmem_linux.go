//go:build linux

package backfill

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on Linux/amd64 and
// arm64 (with 4 KiB base pages).
const hugePage = 2 << 20

// allocWords returns n zeroed words outside the Go heap, in memory the
// kernel is asked to back with huge pages, and the function that returns
// it (after which the slice must not be used). The broadcast state is
// probed and filled at scattered positions of hundreds of megabytes: with
// 4 KiB pages nearly every access also misses the TLB. Memory outside the
// heap also goes back to the OS at once when released, instead of when
// the collector gets to it. Where mmap fails, it falls back to the heap.
func allocWords(n int) ([]uint64, func()) {
	if n == 0 {
		return nil, func() {}
	}
	size := (n*8 + hugePage - 1) / hugePage * hugePage
	b, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]uint64, n), func() {}
	}
	// Align to a huge page, so that the whole range can be backed by them.
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) % hugePage); r != 0 {
		off = hugePage - r
	}
	aligned := b[off : off+size]
	syscall.Madvise(aligned, syscall.MADV_HUGEPAGE) // advice only; failure is harmless
	words := unsafe.Slice((*uint64)(unsafe.Pointer(&aligned[0])), n)
	return words, func() { syscall.Munmap(b) }
}
