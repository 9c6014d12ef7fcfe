// MurmurKernels: see DESIGN.md
