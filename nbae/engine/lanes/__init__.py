"""The lanes engine: K models of one shape trained in lockstep, bit-identical on any x86-64."""
