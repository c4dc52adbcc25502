package server

import "runtime"

// runtimeMem reads the process's cumulative allocated bytes.
type runtimeMem struct{ alloc uint64 }

func (m *runtimeMem) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.alloc = ms.TotalAlloc
}
