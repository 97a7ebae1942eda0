import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import Testing

/// Foreign keys and commits: one plugin's DDL and one call's failure must
/// never reach another plugin's writes.
@Suite struct StorageIsolationForeignKeyTests {
    @Test func foreignKeysMayReferenceOnlyThePluginsOwnTables() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "hostile"])
        let client = try crmd.connect()
        let contacts = ContactsClient(connection: client)
        let ada = try await contacts.createPerson("Ada", "Lovelace", email: "ada@example.com")
        try await hostile(client, "CREATE TABLE hostile_ac (x INTEGER)")
        for (text, method, target) in [
            ("CREATE TABLE hostile_fka (k TEXT REFERENCES contacts_search (key))", "Exec", "contacts_search"),
            ("""
             CREATE TABLE hostile_fkb (entity INTEGER, kind TEXT, key TEXT, record_id INTEGER,
               FOREIGN KEY (entity, kind, key, record_id) REFERENCES contacts_search (entity, kind, key, record_id))
             """, "Exec", "contacts_search"),
            ("ALTER TABLE hostile_ac ADD COLUMN k REFERENCES contacts_people (name_key)", "Exec", "contacts_people"),
            ("CREATE TABLE hostile_fkp (p INTEGER REFERENCES kernel_bus_positions (position))", "Exec", "kernel_bus_positions"),
            ("CREATE TABLE hostile_fko (t TEXT REFERENCES kernel_outbox (topic))", "Exec", "kernel_outbox"),
            ("CREATE TABLE hostile_fkf (k TEXT REFERENCES contacts_later (k) DEFERRABLE INITIALLY DEFERRED)", "Exec", "contacts_later"),
            ("CREATE TABLE hostile_fks (k TEXT REFERENCES sqlite_sequence (name))", "Exec", "sqlite_sequence"),
            // A handler that ignores the refusal is rolled back all the same,
            ("CREATE TABLE hostile_fkz (k TEXT REFERENCES contacts_search (key))", "Stubborn", "contacts_search"),
            // and a script loses its other statements with it.
            ("CREATE TABLE hostile_kept (x); CREATE TABLE hostile_fky (p REFERENCES contacts_people (id))", "Script", "contacts_people"),
        ] {
            await expectDenied(client, text, method, mentioning: target)
        }
        // Keys among its own tables are fine.
        try await hostile(client, """
            CREATE TABLE hostile_parent (id INTEGER PRIMARY KEY);
            CREATE TABLE hostile_child (p INTEGER REFERENCES hostile_parent (id));
            ALTER TABLE hostile_ac ADD COLUMN p REFERENCES hostile_parent (id)
            """, "Script")

        // Contacts' writes, its subscriber and the kernel's compaction are untouched.
        var change = CPerson()
        change.id = ada.id
        change.lastName = "King"
        let updated: CPerson = try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person = change
            $0.updateMask = ["last_name"]
        })
        #expect(updated.lastName == "King")
        _ = try await contacts.createPerson("Charles", "Babbage")
        let file = DatabaseFile(dataDir: crmd.dir + "/data")
        let head = try file.rows("SELECT max(sequence) FROM kernel_outbox")
        let until = Date().addingTimeInterval(10)
        while try file.rows("SELECT position FROM kernel_bus_positions WHERE plugin = 'contacts'") != head && Date() < until {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try file.rows("SELECT position FROM kernel_bus_positions WHERE plugin = 'contacts'") == head)
        #expect(try file.rows("SELECT name FROM sqlite_schema WHERE name LIKE 'hostile_fk%' OR name = 'hostile_kept'").isEmpty)
        #expect(!crmd.log.contains("foreign key mismatch"))
    }

    @Test func migrationsAreCheckedTheSameWay() async throws {
        let crmd = try CrmdProcess(plugins: ["badfkmig", "evolvemig"])
        let client = try crmd.connect()
        let plugins = try await allPlugins(client)
        let refused = try #require(plugins.first { $0.name == "badfkmig" })
        #expect(refused.state == .failed)
        #expect(refused.reason.contains("kernel_outbox"))
        // Renames, dropped and added columns on its own tables are what migrations need.
        #expect(plugins.first { $0.name == "evolvemig" }?.state == .loaded)
        let file = DatabaseFile(dataDir: crmd.dir + "/data")
        #expect(try file.rows("SELECT name FROM sqlite_schema WHERE name LIKE 'badfkmig%'").isEmpty)
        #expect(try file.rows("SELECT name FROM pragma_table_info('evolvemig_things') ORDER BY cid") == [["id"], ["title"], ["n"]])
    }

    @Test func aDeferredForeignKeyFailureFailsOnlyItsOwnCall() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "probe", "hostile"])
        let setup = try crmd.connect()
        try await hostile(setup, """
            CREATE TABLE hostile_parent (id INTEGER PRIMARY KEY);
            CREATE TABLE hostile_child (p INTEGER REFERENCES hostile_parent (id) DEFERRABLE INITIALLY DEFERRED)
            """, "Script")
        // Resolved before the call ends, a deferred key is fine.
        try await hostile(setup, "INSERT INTO hostile_child VALUES (1); INSERT INTO hostile_parent VALUES (1)", "Script")
        // Calls from three plugins in flight at once, so that groups mix guilty and innocent ones.
        let clients = try (0..<4).map { _ in try crmd.connect() }
        let outcomes = await withTaskGroup(of: (Int, RPCError?).self) { group in
            for i in 0..<90 {
                let client = clients[i % clients.count]
                group.addTask {
                    do {
                        switch i % 3 {
                        case 0: try await hostile(client, "INSERT INTO hostile_child VALUES (\(1000 + i))")
                        case 1: _ = try await ContactsClient(connection: client).createPerson("P\(i)", "Q")
                        default: _ = try await put(client, key: "k\(i)")
                        }
                        return (i, nil)
                    } catch let error as RPCError {
                        return (i, error)
                    } catch {
                        return (i, RPCError(.internal, "\(error)"))
                    }
                }
            }
            var all: [(Int, RPCError?)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        for (i, error) in outcomes {
            if i % 3 == 0 {
                #expect(error?.code == .failedPrecondition && error?.message.contains("FOREIGN KEY") == true, "\(i): \(String(describing: error))")
            } else {
                #expect(error == nil, "\(i): \(String(describing: error))")
            }
        }
        let file = DatabaseFile(dataDir: crmd.dir + "/data")
        #expect(try file.rows("SELECT count(*) FROM probe_items") == [["30"]])
        #expect(try file.rows("SELECT count(*) FROM contacts_people") == [["30"]])
        #expect(try file.rows("SELECT count(*) FROM hostile_child") == [["1"]])
    }
}
