#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MurmurCore
import MurmurInference
import MurmurJobs
import MurmurNode

/// The jobs part of `murmur demo`: the sample model published at node 0, replicated by the
/// nodes' `--serve all`, and one job submitted at every node, each result checked offline.
extension MeshDemo {
    /// `Tests/Fixtures/models` of the repository: from the working directory, or up from the
    /// executable (`<repo>/.build/<triple>/debug/murmur`).
    func sampleModels() -> String? {
        var candidates = [FileManager.default.currentDirectoryPath]
        var dir = executable
        while let slash = dir.lastIndex(of: "/") {
            dir = String(dir[..<slash])
            if dir.hasSuffix("/.build") { candidates.append(String(dir.dropLast(7))); break }
        }
        for c in candidates where access(c + "/Tests/Fixtures/models/mlp.onnx", R_OK) == 0 { return c + "/Tests/Fixtures/models" }
        return nil
    }

    func request(_ node: DemoNode, _ method: String, _ path: String, _ body: [UInt8] = [], seconds: Double = 5) -> (Int, [String: Any]) {
        guard let control = node.control,
              let r = try? ControlClient.request(control, method: method, path: path, body: body, timeout: .seconds(seconds)),
              let o = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] else { return (0, [:]) }
        return (r.status, o)
    }

    /// What the jobs run: the sample MLP of the repository, or `--model`'s cached real model
    /// with a generated input (murmur infer JSON form).
    struct Workload {
        let path: String
        let name: String
        let input: Any
    }

    func workload() -> Workload? {
        if let m = realModel {
            var input: [String: Any] = [:]
            for (name, t) in m.sampleInputs() {
                let data: [Any]
                switch t.storage {
                case let .float32(a): data = a.map { Double($0) }
                case let .float64(a): data = a
                case let .int64(a): data = a.map { NSNumber(value: $0) }
                case let .int32(a): data = a.map { Int($0) }
                case let .int8(a): data = a.map { Int($0) }
                case let .uint8(a): data = a.map { Int($0) }
                case let .bool(a): data = a
                }
                input[name] = ["shape": t.shape, "dtype": t.dtype.name, "data": data] as [String: Any]
            }
            return Workload(path: m.path, name: m.alias, input: input)
        }
        guard let models = sampleModels(),
              let inputData = FileManager.default.contents(atPath: models + "/mlp.input.json"),
              let input = try? JSONSerialization.jsonObject(with: inputData) else { return nil }
        return Workload(path: models + "/mlp.onnx", name: "mlp", input: input)
    }

    func runJobs(names: [String: Int]) -> Bool {
        guard let work = workload() else {
            writeLine("jobs: skipped (Tests/Fixtures/models/mlp.onnx not found: run the demo from the repository)")
            return true
        }
        func name(_ hex: String) -> String { names[hex].map { "node \($0)" } ?? String(hex.prefix(8)) }
        let body = Array((try? JSONSerialization.data(withJSONObject: ["path": work.path, "name": work.name])) ?? Data())
        let (status, published) = request(nodes[0], "POST", "/v1/models", body, seconds: 60)
        guard status == 201, let hash = published["model_hash"] as? String else {
            writeLine("FAILED: publishing the model \(work.name): \(published)")
            return false
        }
        let publishedAt = loop.now
        writeLine("published model \(work.name) \(hash.prefix(16))… (\(published["size"] ?? "?") bytes) at node 0\(realModel.map { " — \($0.summary), from \($0.package)" } ?? "")")
        let replicated = poll(every: .milliseconds(50)) {
            nodes.allSatisfy { n in
                let (_, o) = request(n, "GET", "/v1/models")
                return (o["models"] as? [[String: Any]])?.contains { $0["model_hash"] as? String == hash && $0["held"] as? Bool == true } == true
            }
        }
        guard replicated else {
            writeLine("FAILED: the model did not reach every node (\(interrupted ? "interrupted" : "timeout"))")
            return false
        }
        writeLine("every node fetched and verified the model \(since(publishedAt)) after publication (chunks checked against the manifest)")
        // Announcements listing the model spread a moment after the fetch completes.
        let heldAt = loop.now
        _ = poll(every: .milliseconds(50)) { loop.now - heldAt > .milliseconds(Int64(300)) }

        let input = work.input
        // With a liar, r = 2 so that a dispute round (r + 2 = 4 fresh deciders, more on a split) fits in the mesh.
        let r = liarIndex != nil ? 2 : min(3, count), q = liarIndex != nil ? 2 : r / 2 + 1
        let liarID = liarIndex.flatMap { nodes[$0].id?.hex }
        var verified = 0, submitted = 0, liarCaught = 0
        var outputs = Set<String>()
        // One job per node; with a liar, more (at rotating entry nodes) until it has been an
        // executor and been outvoted, at most 3 × the node count.
        // Entry nodes: every honest node (a client does not need to trust its entry node — it
        // checks the result — but the liar's own view of a job is, of course, a lie).
        let entries = nodes.filter { $0.index != liarIndex }
        while submitted < entries.count || (liarID != nil && liarCaught == 0 && submitted < 3 * nodes.count) {
            if interrupted { break }
            let node = entries[submitted % entries.count]
            let i = node.index
            submitted += 1
            let t0 = loop.now
            let job = Array((try? JSONSerialization.data(withJSONObject: ["model": work.name, "input": input, "redundancy": r, "quorum": q,
                                                                           "deadline_ms": 15_000] as [String: Any])) ?? Data())
            let (s, accepted) = request(node, "POST", "/v1/jobs", job)
            guard s == 202, let id = accepted["job_id"] as? String else {
                writeLine("  job at node \(i): refused (\(s == 0 ? "no answer: a \(job.count)-byte request may exceed the node's API body limit" : "\(s)")): \(accepted)")
                continue
            }
            let (_, view) = request(node, "GET", "/v1/jobs/\(id)?wait=20", seconds: 25)
            let state = view["state"] as? String ?? "?"
            let executors = (view["executors"] as? [String] ?? []).map(name)
            let outputHash = view["output_hash"] as? String ?? "-"
            let disputed = view["disputed"] as? Bool == true
            let liarAttested = liarID.map { l in (view["attestations"] as? [[String: Any]] ?? []).contains { $0["executor"] as? String == l } } ?? false
            var checked = "not checked"
            if state == "verified", let jobRecord = (view["job"] as? [String: Any])?["record"] as? String, let jobBytes = Hex.decode(jobRecord) {
                let atts = (view["attestations"] as? [[String: Any]] ?? []).compactMap { ($0["record"] as? String).flatMap(Hex.decode) }
                let out = (view["output_bytes"] as? String).flatMap(Hex.decode)
                do {
                    _ = try ResultCheck.verify(job: jobBytes, attestations: atts, output: out)
                    checked = "checked offline"
                    verified += 1
                    outputs.insert(outputHash)
                } catch {
                    checked = "REJECTED offline: \(error)"
                }
            }
            if disputed && state == "verified" { liarCaught += 1 }
            if disputed && disputedJob == nil { disputedJob = id }
            let note = disputed ? " — DISPUTED: the dispute round decided it, \(executors.count) agreeing attestations; the liar is a proven minority" : ""
            writeLine("  job \(id.prefix(12)) entry node \(i): \(state) in \(since(t0)), executors \(executors.joined(separator: ", ")), output \(outputHash.prefix(16)), \(checked)\((view["reason"] as? String).map { " — \($0)" } ?? "")\(note)\(liarAttested ? " (liar's attestation not counted)" : "")")
        }
        var ok = verified == submitted && outputs.count == 1
        writeLine("jobs: \(verified) of \(submitted) verified (r = \(r), q = \(q))\(outputs.count == 1 ? ", one output hash across all" : "")")
        if let liarID, let liar = liarIndex {
            // Every honest node excludes the proven liar from its rankings.
            var excluding: [Int] = []
            let honest = nodes.filter { $0.index != liar }
            _ = poll(every: .milliseconds(50)) {
                excluding = honest.filter { n in
                    let (_, o) = request(n, "GET", "/v1/reputation")
                    return (o["excluded"] as? [String])?.contains(liarID) == true
                }.map(\.index)
                return excluding.count == honest.count
            }
            let caught = liarCaught > 0 && excluding.count == honest.count
            writeLine(caught ? "liar node \(liar) caught: outvoted in \(liarCaught) dispute(s), excluded by all \(honest.count) honest nodes"
                             : "FAILED: liar node \(liar) \(liarCaught == 0 ? "was never outvoted" : "excluded only by nodes \(excluding)")")
            ok = ok && caught
        }
        if ok && count >= 4 { ok = killExecutorMidJob(model: work.name, input: input, name: name) }
        return ok
    }

    /// Submits a job, kills -9 one of its executors while it runs, and waits for the mesh to
    /// finish it anyway (the lease lapses and the next node in rank takes over).
    func killExecutorMidJob(model: String, input: Any, name: (String) -> String) -> Bool {
        let entry = nodes[0]
        let r = liarIndex != nil ? 2 : min(3, count)
        let job = Array((try? JSONSerialization.data(withJSONObject: ["model": model, "input": input, "redundancy": r, "quorum": r,
                                                                       "deadline_ms": 40_000] as [String: Any])) ?? Data())
        let t0 = loop.now
        let (s, accepted) = request(entry, "POST", "/v1/jobs", job)
        guard s == 202, let id = accepted["job_id"] as? String else {
            writeLine("FAILED: job for the kill test refused (\(s)): \(accepted)")
            return false
        }
        let ids = Dictionary(nodes.compactMap { n in n.id.map { ($0.hex, n.index) } }, uniquingKeysWith: { a, _ in a })
        var victim: Int?
        _ = poll(every: .milliseconds(10)) {
            let (_, view) = request(entry, "GET", "/v1/jobs/\(id)")
            guard view["state"] as? String == "running" else { return false }
            victim = (view["assigned"] as? [String] ?? []).compactMap { ids[$0] }.first { $0 != 0 && $0 != liarIndex }
            return victim != nil
        }
        guard let victim else {
            writeLine("FAILED: never saw the kill-test job running")
            return false
        }
        nodes[victim].process.kill()
        killed.insert(victim)
        killedExecutorJob = id
        writeLine("  job \(id.prefix(12)) entry node 0: killed executor node \(victim) (kill -9) \(since(t0)) after submission, while the job runs")
        let (_, view) = request(entry, "GET", "/v1/jobs/\(id)?wait=45", seconds: 50)
        let state = view["state"] as? String ?? "?"
        let executors = (view["executors"] as? [String] ?? []).map(name)
        let victimName = "node \(victim)"
        let ok = state == "verified" && !executors.contains(victimName)
        writeLine("  job \(id.prefix(12)): \(state) in \(since(t0)) (its lease lapsed, the next node in rank took over), executors \(executors.joined(separator: ", "))\((view["reason"] as? String).map { " — \($0)" } ?? "")")
        return ok
    }
}
