import CRMTestSupport
import Foundation
import Testing

/// `--socket` is global: accepted before the subcommand as well as after it.
@Suite struct CrmctlGlobalOptionsTests {
    @Test func socketWorksBeforeAndAfterTheSubcommand() throws {
        let crmd = try CrmdProcess(plugins: [])
        // CRM_SOCKET points nowhere, so only the option can reach crmd.
        for arguments in [["--socket", crmd.socketPath, "health"], ["--socket=\(crmd.socketPath)", "health"],
                          ["health", "--socket", crmd.socketPath], ["health", "--socket=\(crmd.socketPath)"],
                          ["--socket", crmd.socketPath, "call", "/crm.kernel.v1.Health/Check", "{}"]] {
            let run = try CrmctlRun.run(arguments, socket: CrmctlRun.nowhere)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            #expect(run.stdout.hasPrefix("status: SERVING") || run.stdout.hasPrefix(#"{"status":"#), "\(arguments)")
        }
        // A nested subcommand gets it too: crmd answers (no contacts plugin here) rather than nobody.
        let nested = try CrmctlRun.run(["--socket", crmd.socketPath, "contacts", "export"], socket: CrmctlRun.nowhere)
        #expect(nested.status == 12, "\(nested.stderr)")
        #expect(nested.stderr.hasPrefix("crmctl: UNIMPLEMENTED: "))
        // Given both ways, the subcommand's own --socket wins, like a later flag.
        let both = try CrmctlRun.run(["--socket", CrmctlRun.nowhere, "health", "--socket", crmd.socketPath],
                                     socket: CrmctlRun.nowhere)
        #expect(both.status == 0, "\(both.stderr)")
    }

    @Test func aGlobalSocketWithoutAValueIsAUsageError() throws {
        for arguments in [["--socket"], ["--socket="], ["--socket=", "health"]] {
            let run = try CrmctlRun.run(arguments, socket: CrmctlRun.nowhere)
            #expect(run.status == 64, "\(arguments)")
            #expect(run.stderr.contains("--socket needs a path"), "\(arguments): \(run.stderr)")
        }
    }

    @Test func helpStillWorksAndNamesTheGlobalOption() throws {
        for arguments in [["--help"], ["--socket", "/tmp/x.sock", "--help"]] {
            let run = try CrmctlRun.run(arguments, socket: CrmctlRun.nowhere)
            #expect(run.status == 0, "\(arguments)")
            #expect(run.stdout.contains("USAGE: crmctl <subcommand>"), "\(arguments)")
            #expect(run.stdout.contains("--socket PATH"), "\(arguments)")
        }
        let unknown = try CrmctlRun.run(["--sockets", "/tmp/x.sock", "health"], socket: CrmctlRun.nowhere)
        #expect(unknown.status == 64)
    }
}
