import CRMTestSupport
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

    @Test func aCorrectedCopyOfARefusedRowIsNotARepeat() throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let file = crmd.dir + "/people.csv"
        try """
            first_name,last_name,external_id,lifecycle_stage
            Ada,Lovelace,x1,no-such-stage
            Alan,Turing,x2,
            Ada,Lovelace,x1,
            Ada,Byron,x1,

            """.write(toFile: file, atomically: true, encoding: .utf8)
        // Batches of one row: row 2 is refused by crmd, so row 4 imports x1 and row 5 repeats row 4.
        for extra in [["--dry-run"], []] {
            let run = try CrmctlRun.run(["contacts", "import", file, "--batch", "1"] + extra, socket: crmd.socketPath)
            #expect(run.stdout.contains("2 created, 0 updated, 0 unchanged, 2 failed"), "\(run.stdout)\n\(run.stderr)")
            #expect(run.stderr.contains("row 5, column external_id: external_id \"x1\" repeats row 4"), "\(run.stderr)")
        }
    }

    @Test func aFileOfManyMegabytesIsReadRowByRow() throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let file = crmd.dir + "/big.csv"
        // About 2.6 MiB: rows cross the reader's 1 MiB blocks several times.
        var text = "first_name,last_name,external_id,notes\n"
        let note = String(repeating: "n", count: 180)
        for i in 0..<12_000 { text += "First\(i),Last\(i),e\(i),\"\(note)\"\n" }
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try CrmctlRun.run(["contacts", "import", file, "--dry-run"], socket: crmd.socketPath)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("12000 rows") && run.stdout.contains("12000 created"), "\(run.stdout)\n\(run.stderr.prefix(500))")
    }
}
