import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation
import SwiftProtobuf

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test one unary method and report calls/s and latency percentiles.",
        discussion: """
        Each connection runs on its own thread and keeps --in-flight calls
        outstanding for --duration seconds, then waits for the last answers.
        Example: crmctl bench --method /crm.kernel.v1.Health/Check --connections 4 --in-flight 64 --duration 10
        With --random MIN:MAX, every "$RANDOM" in --json becomes a random
        integer in that range, in 1,024 requests sent in turn:
          crmctl bench --method /crm.contacts.v1.Contacts/GetPerson --json '{"id":"$RANDOM"}' --random 1:1000000
        With --unique-field NAME, the string field NAME of every request gets
        a value no other call of the run has (an idempotency key, say), so a
        retryable write is measured as a write and not as a replay:
          crmctl bench --method /crm.loyalty.v1.Loyalty/EarnPoints --json '{"accountId":"1","points":"1"}' --unique-field idempotency_key
        """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "The unary method to call.")
    var method: String

    @Option(name: .long, help: "The request as JSON (default: empty message).")
    var json: String?

    @Option(name: .long, help: "The request as base64 protobuf bytes, for types crmctl does not know.")
    var base64: String?

    @Option(name: .long, help: "MIN:MAX for the \"$RANDOM\" placeholders in --json.")
    var random: String?

    @Option(name: .long, help: "A string field of the request given a new value on every call (e.g. idempotency_key).")
    var uniqueField: String?

    @Option(name: .long, help: "Connections, each with its own thread.")
    var connections = 1

    @Option(name: .long, help: "Calls kept in flight per connection.")
    var inFlight = 1

    @Option(name: .long, help: "Seconds to run.")
    var duration: Double = 5

    @Option(name: .long, help: "Seconds to run before measuring (warm-up).")
    var warmup: Double = 1

    @Option(name: .long, help: "human or json.")
    var format = "human"

    func validate() throws {
        guard connections > 0, inFlight > 0, duration > 0, warmup >= 0 else {
            throw ValidationError("--connections, --in-flight and --duration must be positive")
        }
        guard ["human", "json"].contains(format) else { throw ValidationError("--format is human or json") }
        guard json == nil || base64 == nil else { throw ValidationError("give --json or --base64, not both") }
        if random != nil {
            guard randomRange != nil else { throw ValidationError("--random must be MIN:MAX with MIN <= MAX") }
            guard json?.contains("$RANDOM") == true else { throw ValidationError("--random needs \"$RANDOM\" in --json") }
        }
    }

    func run() async throws {
        try await runCalls {
            let payloads = try await requestVariants()
            let config = BenchRunner.Config(
                socketPath: connection.path, method: method, payloads: payloads, uniqueField: try await uniqueFieldNumber(),
                connections: connections, inFlight: inFlight, warmupSeconds: warmup, durationSeconds: duration)
            let report = try BenchRunner(config).run()
            print(format == "json" ? report.json() : report.human(config))
        }
    }

    private var randomRange: ClosedRange<Int64>? { BenchRequests.randomRange(random) }

    private func uniqueFieldNumber() async throws -> Int? {
        guard let uniqueField else { return nil }
        let type = try await BenchRequests.requestType(try connection.connect(), method: method)
        guard let number = BenchRequests.stringFieldNumber(uniqueField, of: type) else {
            throw RPCError(.invalidArgument, "--unique-field \(uniqueField) is not a string field of \(type.protoMessageName)")
        }
        return number
    }

    private func requestVariants() async throws -> [[UInt8]] {
        if let base64 {
            guard let data = Data(base64Encoded: base64) else { throw ValidationError("--base64 is not base64") }
            return [Array(data)]
        }
        guard let json else { return [[]] }
        let type = try await BenchRequests.requestType(try connection.connect(), method: method, otherwise: "; use --base64")
        guard let range = randomRange else { return [try type.init(jsonString: json).serializedBytes()] }
        var generator = SystemRandomNumberGenerator()
        return try (0..<1024).map { _ in
            let text = json.replacingOccurrences(of: "$RANDOM", with: String(Int64.random(in: range, using: &generator)))
            return try type.init(jsonString: text).serializedBytes()
        }
    }
}
