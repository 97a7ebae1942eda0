import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation
import SwiftProtobuf

struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call any method. Requests and responses are JSON for every message type crmctl knows, base64 otherwise.",
        discussion: """
        Examples:
          crmctl call /crm.kernel.v1.Health/Check '{}'
          crmctl call /crm.example.tablebooking.v1.TableBooking/CreateBooking \\
              '{"guestName":"Ada","partySize":4,"startsAt":"1767225600"}'
          crmctl call --base64 /acme.v1.Thing/Do CgNhYmM=
        A streaming method prints one JSON (or base64) line per message.
        """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The method, /package.Service/Method.")
    var method: String

    @Argument(help: "The request: JSON, or base64 with --base64 or for a type crmctl does not know. Default: empty.")
    var request: String?

    @Flag(name: .long, help: "Send and print raw protobuf bytes as base64, whatever the type.")
    var base64 = false

    @Option(name: .long, help: "Deadline in milliseconds.")
    var timeoutMs: Int?

    @Option(name: [.customShort("H"), .long], help: "Metadata key=value; repeatable.")
    var header: [String] = []

    func validate() throws {
        guard method.hasPrefix("/"), method.split(separator: "/").count == 2 else {
            throw ValidationError("method must look like /package.Service/Method")
        }
        for entry in header where !entry.contains("=") {
            throw ValidationError("-H needs key=value, got \(entry)")
        }
        if let timeoutMs, timeoutMs <= 0 {
            throw ValidationError("--timeout-ms must be a positive number of milliseconds")
        }
    }

    func run() async throws {
        try await runCalls {
            let client = try connection.connect()
            // crmd's own listing first; for a method it does not serve (a refused
            // plugin's), crmctl's copy of the contracts, so crmd still gets the call.
            let info = try await methodInfo(client) ?? Contracts.methods[method]
            let requestType = info.flatMap { MessageRegistry.type(named: $0.requestType) }
            let responseType = info.flatMap { MessageRegistry.type(named: $0.responseType) }
            let useJSON = !base64 && requestType != nil && responseType != nil
            let payload = try encodeRequest(useJSON ? requestType : nil, info)
            let metadata = Dictionary(header.map { entry -> (String, String) in
                let parts = entry.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }, uniquingKeysWith: { $1 })
            let timeout = timeoutMs.map { Duration.milliseconds($0) }
            let output = useJSON ? responseType : nil
            if info?.serverStreaming == true {
                let (_, messages) = client.stream(method, payload, metadata: metadata, timeout: timeout)
                for try await message in messages { print(try render(message, output)) }
            } else {
                let response = try await client.call(method, payload, metadata: metadata, timeout: timeout)
                print(try render(response, output))
            }
        }
    }

    /// The method's entry in Reflection; nil for a method crmd does not list
    /// (the call itself then answers UNIMPLEMENTED).
    private func methodInfo(_ client: Connection) async throws -> Crm_Kernel_V1_MethodInfo? {
        for service in try await listServices(client) {
            if let found = service.methods.first(where: { $0.fullName == method }) { return found }
        }
        return nil
    }

    /// The request's bytes. A request that does not fit is refused here, never
    /// sent, with INVALID_ARGUMENT as crmd would answer it.
    private func encodeRequest(_ type: (any Message.Type)?, _ info: Crm_Kernel_V1_MethodInfo?) throws -> [UInt8] {
        let text = request ?? ""
        if let type {
            let json = text.isEmpty ? "{}" : text
            do {
                return try type.init(jsonString: json).serializedBytes()
            } catch {
                let why = JSONRequestCheck(type: type).explain(json, error)
                throw RPCError(.invalidArgument, "request is not valid JSON for \(type.protoMessageName): \(why)")
            }
        }
        guard let bytes = Data(base64Encoded: text) else {
            let why: String
            if base64 {
                why = "--base64 was given"
            } else if let info {
                why = "crmctl cannot map \(info.requestType) -> \(info.responseType) to JSON"
            } else {
                why = "crmd does not serve \(method) and crmctl does not know its request type"
            }
            throw RPCError(.invalidArgument, "\(why), so the request must be base64 protobuf bytes")
        }
        return Array(bytes)
    }

    private func render(_ bytes: [UInt8], _ type: (any Message.Type)?) throws -> String {
        guard let type else { return Data(bytes).base64EncodedString() }
        let message = try type.init(serializedBytes: bytes)
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = false
        return try message.jsonString(options: options)
    }
}

enum MessageRegistry {
    static let byName: [String: any Message.Type] = Dictionary(
        knownMessageTypes.map { ($0.protoMessageName, $0) }, uniquingKeysWith: { first, _ in first })

    static func type(named name: String) -> (any Message.Type)? { byName[name] }
}
