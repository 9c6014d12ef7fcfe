print("murmur-bench")
