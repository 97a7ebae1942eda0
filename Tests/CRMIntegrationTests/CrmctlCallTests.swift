import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// `crmctl call` maps JSON from its own knowledge of the contracts, so a
/// method crmd does not serve still gets crmd's own answer.
@Suite struct CrmctlCallTests {
    /// What crmd itself answers for `method`, called directly with an empty request.
    func crmdsAnswer(_ crmd: CrmdProcess, _ method: String) async throws -> RPCError {
        let connection = try crmd.connect()
        defer { connection.close() }
        do {
            _ = try await connection.call(method, [])
        } catch let error as RPCError {
            return error
        }
        throw TestFailure("\(method) succeeded")
    }

    @Test func jsonForARefusedPluginsMethodReachesCrmd() async throws {
        // Sales without contacts is refused, so crmd lists none of its methods.
        let crmd = try CrmdProcess(plugins: ["sales"])
        for (method, json) in [("/crm.sales.v1.Sales/CreateLead", #"{"lead":{"firstName":"Ada"},"idempotencyKey":"k"}"#),
                               ("/crm.sales.v1.Sales/GetForecast", #"{"period":"PERIOD_QUARTER"}"#),
                               ("/crm.contacts.v1.Contacts/ExportPeople", #"{"filter":{"tag":"vip"}}"#)] {  // a stream
            let answer = try await crmdsAnswer(crmd, method)
            #expect(answer.code == .unimplemented)
            let run = try CrmctlRun.run(["call", method, json], socket: crmd.socketPath)
            #expect(run.status == 12, "\(method): \(run.stderr)")
            #expect(run.stderr == "crmctl: UNIMPLEMENTED: \(answer.message)\n")
        }
    }

    /// The first rpc of each plugin contract crmctl ships with, and every
    /// streaming one, read from the .proto files.
    static func contractMethods() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var methods: [String] = []
        for file in ["proto/crm/contacts/v1/contacts.proto", "proto/crm/sales/v1/sales.proto",
                     "proto/crm/testing/v1/probe.proto", "sdk/examples/tablebooking/tablebooking.proto"] {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            var package = "", service = "", first = true
            for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let words = line.split(whereSeparator: { " ({;".contains($0) })
                if words.first == "package", words.count > 1 { package = String(words[1]) }
                if words.first == "service", words.count > 1 { service = String(words[1]) }
                if words.first == "rpc", words.count > 1, first || line.contains("returns (stream") {
                    methods.append("/\(package).\(service)/\(words[1])")
                    first = false
                }
            }
        }
        return methods
    }

    @Test func eachPluginContractTakesJSONWithoutItsPlugin() throws {
        let crmd = try CrmdProcess(plugins: [])
        let methods = try Self.contractMethods()
        #expect(methods.count == 6)  // four contracts, two streams
        for method in methods {
            let run = try CrmctlRun.run(["call", method, "{}"], socket: crmd.socketPath)
            #expect(run.status == 12, "\(method): \(run.stderr)")
            #expect(run.stderr.hasPrefix("crmctl: UNIMPLEMENTED: "), "\(method): \(run.stderr)")
        }
    }

    @Test func aMethodNobodyKnowsStillNeedsBase64() throws {
        let crmd = try CrmdProcess(plugins: [])
        let run = try CrmctlRun.run(["call", "/acme.v1.Thing/Do", #"{"a":1}"#], socket: crmd.socketPath)
        #expect(run.status == 3)
        #expect(run.stderr == "crmctl: INVALID_ARGUMENT: crmd does not serve /acme.v1.Thing/Do and crmctl does "
            + "not know its request type, so the request must be base64 protobuf bytes\n")
        let empty = try CrmctlRun.run(["call", "/acme.v1.Thing/Do"], socket: crmd.socketPath)
        #expect(empty.status == 12)  // an empty request is empty bytes: crmd answers
        let forced = try CrmctlRun.run(["call", "--base64", "/crm.kernel.v1.Health/Check", "{}"], socket: crmd.socketPath)
        #expect(forced.status == 3)
        #expect(forced.stderr == "crmctl: INVALID_ARGUMENT: --base64 was given, so the request must be base64 protobuf bytes\n")
    }
}
