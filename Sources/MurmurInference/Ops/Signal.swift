import MurmurCore

/// Window functions (HannWindow, HammingWindow, BlackmanWindow), Celu, ReverseSequence.
/// Windows are computed in binary64 with `ScalarMath.cosD` and rounded once to the output type.
enum SignalOps {
    static let all: [OpDefinition] = [window("HannWindow"), window("HammingWindow"), window("BlackmanWindow"), celu, reverseSequence]

    static func window(_ name: String) -> OpDefinition {
        OpDefinition(name, versions: 17...22) { n in
            let periodic = n.int("periodic", default: 1) != 0
            let dtype = n.int("output_datatype", default: 1)
            guard let dt = DType(rawValue: dtype) else { throw InferenceError.unsupportedDataType(dtype, context: "\(name) output_datatype") }
            return ClosureKernel { ins, _ in
                let size = try K.ints(K.input(ins, 0), "size").first ?? 0
                guard size >= 0 && size <= Limits.maxTensorElements else { throw OpError("size \(size) out of range") }
                let denom = Double(periodic ? size : size - 1)
                let v: [Double] = (0..<size).map { i in
                    let a = 2 * Double.pi * Double(i) / denom
                    switch name {
                    case "HannWindow": return 0.5 - 0.5 * ScalarMath.cosD(a)
                    case "HammingWindow": return 25.0 / 46.0 - (21.0 / 46.0) * ScalarMath.cosD(a)
                    default: return 0.42 - 0.5 * ScalarMath.cosD(a) + 0.08 * ScalarMath.cosD(2 * a)
                    }
                }
                return [Cast.convert(Tensor(shape: [size], doubles: v), to: dt)]
            }
        }
    }

    static let celu = OpDefinition("Celu", versions: 12...22) { n in
        let alpha = n.float("alpha", default: 1)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            return [try ElementwiseOps.mapUnary(x, { v in Swift.max(0, v) + Swift.min(0, alpha * (ScalarMath.exp(v / alpha) - 1)) },
                                                { v in Swift.max(0, v) + Swift.min(0, Double(alpha) * (ScalarMath.expD(v / Double(alpha)) - 1)) }, nil)]
        }
    }

    static let reverseSequence = OpDefinition("ReverseSequence", versions: 10...22) { n in
        let timeAxis = n.int("time_axis", default: 0), batchAxis = n.int("batch_axis", default: 1)
        guard (timeAxis == 0 && batchAxis == 1) || (timeAxis == 1 && batchAxis == 0) else { throw OpError("time_axis/batch_axis must be 0 and 1") }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let lens = try K.ints(K.input(ins, 1), "sequence_lens")
            guard x.rank >= 2 else { throw OpError("input must have rank ≥ 2") }
            let st = K.strides(x.shape)
            let steps = x.shape[timeAxis], batch = x.shape[batchAxis]
            guard lens.count == batch else { throw OpError("sequence_lens must have \(batch) values") }
            var idx = Array(0..<x.count)
            for i in 0..<x.count {
                let t = (i / st[timeAxis]) % steps, b = (i / st[batchAxis]) % batch
                let len = Swift.min(Swift.max(lens[b], 0), steps)
                if t < len { idx[i] = i + (len - 1 - 2 * t) * st[timeAxis] }
            }
            return [x.gathered(idx, shape: x.shape)]
        }
    }
}
