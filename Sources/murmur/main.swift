import MurmurCore

print("murmur \(MurmurVersion.software)")
