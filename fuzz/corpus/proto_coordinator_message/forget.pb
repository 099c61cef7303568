"
	fuzz-node