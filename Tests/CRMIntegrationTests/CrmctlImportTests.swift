import Foundation
import Testing

/// crmctl sends a file to crmd in batches; what a file means must not depend on where the batches fall.
@Suite struct CrmctlImportTests {
    @Test func aRepeatInALaterBatchIsTheSameRowErrorInTheDryRunAndTheRealRun() throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let file = crmd.dir + "/people.csv"
        try """
            first_name,last_name,external_id
            Ada,Lovelace,x1
            Alan,Turing,x2
            Grace,Hopper,x3
            Ada,Byron,x1
            Edsger,Dijkstra,x4

            """.write(toFile: file, atomically: true, encoding: .utf8)
        // Batches of two rows: the repeat (row 5) is in the second batch, x1 in the first.
        let dry = try CrmctlRun.run(["contacts", "import", file, "--batch", "2", "--dry-run"], socket: crmd.socketPath)
        let real = try CrmctlRun.run(["contacts", "import", file, "--batch", "2"], socket: crmd.socketPath)
        for run in [dry, real] {
            #expect(run.status == 3, "\(run.stderr)")
            #expect(run.stdout.contains("5 rows") && run.stdout.contains("4 created, 0 updated, 0 unchanged, 1 failed"), "\(run.stdout)")
            #expect(run.stderr.contains("row 5, column external_id: external_id \"x1\" repeats row 2"), "\(run.stderr)")
        }
        // Importing the same file again changes nothing; the repeat is still refused.
        let again = try CrmctlRun.run(["contacts", "import", file, "--batch", "2"], socket: crmd.socketPath)
        #expect(again.stdout.contains("0 created, 0 updated, 4 unchanged, 1 failed"), "\(again.stdout)")
    }
}
