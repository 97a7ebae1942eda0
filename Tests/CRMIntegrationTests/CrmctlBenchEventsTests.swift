import CRMTestSupport
import Foundation
import Testing

/// crmctl bench-events against the probe, whose Put publishes the request
/// it stored (probe.item.created): each write's value comes back in its event.
@Suite struct CrmctlBenchEventsTests {
    static let put = ["--method", "/crm.testing.v1.Probe/Put", "--json", #"{"value":"$RANDOM","publish":true}"#,
                      "--random", "1:1000000000", "--topic", "probe.item.created", "--key", "payload.value"]

    func figures(_ run: CrmctlRun) throws -> [String: Int] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
                                  "stdout: \(run.stdout) stderr: \(run.stderr)")
        return object.compactMapValues { $0 as? Int }
    }

    @Test func everyWriteIsMatchedToItsEvent() throws {
        let crmd = try CrmdProcess(plugins: ["probe"])
        // The event's PutRequest leaves publish false, which JSON leaves out: it reads as "false".
        let run = try CrmctlRun.run(["bench-events"] + Self.put + ["--where", "payload.publish=false", "--rate", "200",
                                                        "--duration", "1", "--format", "json"],
                                    socket: crmd.socketPath)
        #expect(run.status == 0, "\(run.stderr)")
        let got = try figures(run)
        #expect((got["writes"] ?? 0) >= 150)
        #expect(got["matched"] == got["writes"])
        #expect(got["errors"] == 0 && got["lost"] == 0 && got["unmatched"] == 0)
        #expect((got["ack_p50_us"] ?? -1) <= (got["start_p50_us"] ?? -1))
        #expect((got["start_max_us"] ?? 0) > 0)
    }

    @Test func eventsTheFilterRefusesLeaveTheirWritesLost() throws {
        let crmd = try CrmdProcess(plugins: ["probe"])
        let run = try CrmctlRun.run(["bench-events"] + Self.put + ["--where", "payload.value=none", "--rate", "50",
                                     "--duration", "0.4", "--timeout", "0.3", "--format", "json"], socket: crmd.socketPath)
        #expect(run.status == 0, "\(run.stderr)")
        let got = try figures(run)
        #expect((got["writes"] ?? 0) > 0)
        #expect(got["lost"] == got["writes"])
        #expect(got["matched"] == 0 && got["unmatched"] == 0)
    }

    @Test func aTemplateThatDoesNotFitTheRequestIsRefusedBeforeAnyWrite() throws {
        let crmd = try CrmdProcess(plugins: ["probe"])
        let run = try CrmctlRun.run(["bench-events", "--method", "/crm.testing.v1.Probe/Put", "--json", #"{"nope":"$RANDOM"}"#,
                                     "--random", "1:9", "--topic", "probe.item.created"], socket: crmd.socketPath)
        #expect(run.status == 3)
        #expect(run.stderr.hasPrefix("crmctl: INVALID_ARGUMENT: --json is not valid for crm.testing.v1.PutRequest"))
        let items = try CrmctlRun.run(["events", "probe.item.created"], socket: crmd.socketPath)
        #expect(items.stdout.isEmpty)
    }

    @Test(arguments: [
        (["--topic", "a.b", "--random", "1:2"], "--method"),
        (Array(put.filter { $0 != "--topic" && $0 != "probe.item.created" }), "give at least one --topic"),
        (put + ["--key", "payload."], "--key must be topic, record_id, entity, owner or payload.<path>"),
        (put + ["--key", "sequence"], "--key must be"),
        (put + ["--where", "payload.value"], "--where must be FIELD=VALUE"),
        (put + ["--where", "nope=1"], "--where must be FIELD=VALUE"),
        (["--method", "/crm.testing.v1.Probe/Put", "--json", "{}", "--random", "1:9", "--topic", "t"], "every --json needs \"$RANDOM\""),
        (put.map { $0 == "1:1000000000" ? "9:1" : $0 }, "--random must be MIN:MAX with MIN <= MAX"),
        (put.map { $0 == "1:1000000000" ? "1" : $0 }, "--random must be MIN:MAX"),
        (put.map { $0 == "/crm.testing.v1.Probe/Put" ? "Put" : $0 }, "--method must look like /package.Service/Method"),
        (put + ["--rate", "0"], "--rate must be"),
        (put + ["--duration=0"], "--duration must be"),
        (put + ["--timeout", "0"], "--timeout must be"),
        (put + ["--max-in-flight", "0"], "--max-in-flight must be"),
        (put + ["--format", "xml"], "--format is human or json"),
    ])
    func badArgumentsAreUsageErrors(arguments: [String], message: String) throws {
        let run = try CrmctlRun.run(["bench-events"] + arguments, socket: CrmctlRun.nowhere)
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}
