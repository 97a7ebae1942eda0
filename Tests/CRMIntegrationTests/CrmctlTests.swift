import CRMTestSupport
import Foundation
import Testing

/// crmctl as a user runs it: exact output and exit codes.
@Suite struct CrmctlTests {
    func crmctl(_ arguments: [String], socket: String) throws -> CrmctlRun {
        try CrmctlRun.run(arguments, socket: socket)
    }

    @Test func healthAndPluginsPrintTheirTables() throws {
        let crmd = try CrmdProcess(plugins: ["probe", "tablebooking", "badabi"])
        let health = try crmctl(["health"], socket: crmd.socketPath)
        #expect(health.status == 0)
        #expect(health.stdout.hasPrefix("status: SERVING\n"))
        #expect(health.stdout.contains("crm.example.tablebooking.v1.TableBooking"))
        let plugins = try crmctl(["plugins"], socket: crmd.socketPath)
        #expect(plugins.status == 0)
        let lines = plugins.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("badabi           1.0.0    FAILED: binary built for plugin ABI 999"))
        #expect(lines[1] == "probe            1.0.0    loaded")
        #expect(lines[2] == "    events probe.item.*: position 0, lag 0")  // the probe subscribes
        #expect(lines[3] == "tablebooking     1.0.0    loaded")
    }

    @Test func eventsAndBackupWorkFromTheCommandLine() throws {
        let crmd = try CrmdProcess(plugins: ["tablebooking"])
        let booking = try crmctl(["call", "/crm.example.tablebooking.v1.TableBooking/CreateBooking",
                                  #"{"guestName":"Ada","partySize":2,"startsAt":"1798740000"}"#], socket: crmd.socketPath)
        #expect(booking.status == 0)
        let events = try crmctl(["events", "--format", "json"], socket: crmd.socketPath)
        #expect(events.status == 0)
        let line = try #require(events.stdout.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["sequence"] as? Int == 1)
        #expect(object["topic"] as? String == "tablebooking.booking.created")
        #expect(try crmctl(["events", "--after", "1"], socket: crmd.socketPath).stdout.isEmpty)
        let backup = try crmctl(["backup", crmd.dir + "/copy.db"], socket: crmd.socketPath)
        #expect(backup.status == 0 && backup.stdout.contains("events through 1"))
        #expect(try DatabaseFile(path: crmd.dir + "/copy.db").rows("SELECT guest_name FROM tablebooking_bookings") == [["Ada"]])
        let again = try crmctl(["backup", crmd.dir + "/copy.db"], socket: crmd.socketPath)
        #expect(again.status == 6)  // ALREADY_EXISTS
    }

    @Test func callMapsJSONBothWaysAndExitsWithTheStatus() throws {
        let crmd = try CrmdProcess(plugins: ["tablebooking"])
        let created = try crmctl(["call", "/crm.example.tablebooking.v1.TableBooking/CreateBooking",
                                  #"{"guestName":"Ada","partySize":2,"startsAt":"1798740000"}"#], socket: crmd.socketPath)
        #expect(created.status == 0)
        #expect(created.stdout == #"{"id":"1","guestName":"Ada","partySize":2,"startsAt":"1798740000","table":"T1"}"# + "\n")
        let missing = try crmctl(["call", "/crm.example.tablebooking.v1.TableBooking/GetBooking", #"{"id":"9"}"#],
                                 socket: crmd.socketPath)
        #expect(missing.status == 5)
        #expect(missing.stderr == "crmctl: NOT_FOUND: booking 9 not found\n")
        let unknown = try crmctl(["call", "/crm.nope.v1.X/Y"], socket: crmd.socketPath)
        #expect(unknown.status == 12)
        let badJSON = try crmctl(["call", "/crm.example.tablebooking.v1.TableBooking/GetBooking", "{nope"],
                                 socket: crmd.socketPath)
        #expect(badJSON.status == 3)
    }

    @Test func callWithBase64SendsRawBytes() throws {
        let crmd = try CrmdProcess(plugins: ["probe"])
        // EchoRequest{payload: "hi"} = 0a 02 68 69
        let run = try crmctl(["call", "--base64", "/crm.testing.v1.Probe/Echo", "CgJoaQ=="], socket: crmd.socketPath)
        #expect(run.status == 0)
        let bytes = try #require(Data(base64Encoded: run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(bytes.starts(with: [0x0a, 0x02, 0x68, 0x69]))
    }

    @Test func unreachableServerExitsUnavailable() throws {
        let run = try crmctl(["health"], socket: CrmctlRun.nowhere)
        #expect(run.status == 14)
        #expect(run.stderr.hasPrefix("crmctl: UNAVAILABLE: cannot connect"))
    }

    @Test func benchPrintsOneJSONObjectWithTheFigures() throws {
        let crmd = try CrmdProcess(plugins: [])
        let run = try crmctl(["bench", "--method", "/crm.kernel.v1.Health/Check", "--connections", "2",
                              "--in-flight", "4", "--duration", "0.5", "--warmup", "0.1", "--format", "json"],
                             socket: crmd.socketPath)
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        for key in ["calls", "errors", "calls_per_s", "p50_us", "p99_us", "p999_us"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect((object["calls"] as? Int ?? 0) > 0)
        #expect(object["errors"] as? Int == 0)
    }

    /// probe_items.key is UNIQUE: with one key every call after the first is
    /// refused, so no errors means each call carried a key of its own.
    @Test func benchUniqueFieldGivesEveryCallItsOwnValue() throws {
        let crmd = try CrmdProcess(plugins: ["probe"])
        let args = ["bench", "--method", "/crm.testing.v1.Probe/Put", "--json", #"{"key":"fixed","value":"v"}"#,
                    "--in-flight", "4", "--duration", "0.5", "--warmup", "0.1", "--format", "json"]
        func figures(_ run: CrmctlRun) throws -> (calls: Int, errors: Int) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            return (object["calls"] as? Int ?? -1, object["errors"] as? Int ?? -1)
        }
        let replayed = try figures(try crmctl(args, socket: crmd.socketPath))
        #expect(replayed.calls > 1 && replayed.errors == replayed.calls, "the fixed key was inserted before the run")
        let unique = try figures(try crmctl(args + ["--unique-field", "key"], socket: crmd.socketPath))
        #expect(unique.calls > 1)
        #expect(unique.errors == 0)
    }

    @Test func benchUniqueFieldMustNameAStringField() throws {
        let crmd = try CrmdProcess(plugins: ["probe"])
        for field in ["publish", "nosuch", "key\"", "value.x"] {
            let run = try crmctl(["bench", "--method", "/crm.testing.v1.Probe/Put", "--unique-field", field, "--duration", "0.2"],
                                 socket: crmd.socketPath)
            #expect(run.status == 3, "\(field)")
            #expect(run.stderr.contains("--unique-field \(field) is not a string field of crm.testing.v1.PutRequest"), "\(run.stderr)")
        }
    }
}
