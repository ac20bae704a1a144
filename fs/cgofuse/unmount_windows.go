package cgofuse

// takeSignals: WinFsp ends the file system on Ctrl-C itself, cleanly.
func (s *Server) takeSignals() {}

// unmountHost: fuse_exit, which WinFsp answers from anywhere.
func (s *Server) unmountHost() bool { return s.host.Unmount() }
