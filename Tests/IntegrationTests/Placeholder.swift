// Placeholder so the test target compiles until its first real test lands; delete it then.
