import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import Testing

/// An integrator's path, end to end: the SDK installed into a temp prefix
/// (`make install-sdk`), a plugin written by `crmctl plugin new` into a temp
/// directory outside the repository, built there with nothing but the SDK (C)
/// or CRMPluginKit by path (Swift), copied into a plugin directory, and called
/// over the socket by the crmd of build/bin, which is not rebuilt.
@Suite(.serialized) struct ScaffoldTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func aCPluginScaffoldedOutsideTheRepositoryBuildsAndAnswers() async throws {
        let started = ContinuousClock.now
        let work = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let prefix = try installSDK(into: work)
        try crmctl(["plugin", "new", "scaffoldc", "--lang", "c", "--output", work + "/scaffoldc"])
        try run(["make", "-C", work + "/scaffoldc"], environment: ["PKG_CONFIG_PATH": prefix + "/lib/pkgconfig"])
        try await expectServed(plugin: "scaffoldc", built: work + "/scaffoldc/build")
        try run(["make", "-C", work + "/scaffoldc", "smoke", "CRMD=\(CrmdProcess.buildDir)/bin/crmd",
                 "CRMCTL=\(CrmdProcess.buildDir)/bin/crmctl"], environment: ["PKG_CONFIG_PATH": prefix + "/lib/pkgconfig"])
        print("ScaffoldTests: C plugin installed, scaffolded, built and called in \(ContinuousClock.now - started)")
    }

    /// Builds swift-protobuf and the kit from scratch in the scaffold's own
    /// .build: the slow one (minutes).
    @Test func aSwiftPluginScaffoldedOutsideTheRepositoryBuildsAndAnswers() async throws {
        let started = ContinuousClock.now
        let work = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let prefix = try installSDK(into: work)
        let generator = ProcessInfo.processInfo.environment["PROTOC_GEN_SWIFT"] ?? prefix + "/bin/protoc-gen-swift"
        guard FileManager.default.isExecutableFile(atPath: generator) else {
            throw TestFailure("no protoc-gen-swift at \(generator): run proto/generate.sh or set PROTOC_GEN_SWIFT")
        }
        try crmctl(["plugin", "new", "scaffoldswift", "--lang", "swift", "--kit-path", Self.repository,
                    "--output", work + "/scaffoldswift"])
        try run(["make", "-C", work + "/scaffoldswift", "PROTOC_GEN_SWIFT=" + generator])
        try await expectServed(plugin: "scaffoldswift", built: work + "/scaffoldswift/build")
        try run(["make", "-C", work + "/scaffoldswift", "smoke", "CRMD=\(CrmdProcess.buildDir)/bin/crmd",
                 "CRMCTL=\(CrmdProcess.buildDir)/bin/crmctl"])
        print("ScaffoldTests: Swift plugin installed, scaffolded, built and called in \(ContinuousClock.now - started)")
    }

    @Test func badNamesAndDirectoriesInUseAreRefused() throws {
        let work = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let cases: [([String], String)] = [
            (["Loyalty", "--lang", "c"], "plugin name \"Loyalty\" must be 1-32 lowercase letters and digits, a letter first"),
            (["loyalty_2", "--lang", "swift"], "plugin name \"loyalty_2\" must be 1-32"),
            (["loyalty", "--lang", "c", "--package", "acme..v1"], "--package \"acme..v1\" must be dot-separated words"),
            (["loyalty", "--lang", "c", "--kit-path", work], "--kit-path and --kit-url are for --lang swift"),
            (["loyalty", "--lang", "swift", "--kit-path", work], "no CRMPluginKit in \(URL(fileURLWithPath: work).standardizedFileURL.path)"),
            (["loyalty", "--lang", "c", "--output", Self.repository], "\(Self.repository) exists and is not empty"),
        ]
        for (arguments, message) in cases {
            let run = try CrmctlRun.run(["plugin", "new"] + arguments, socket: CrmctlRun.nowhere)
            #expect(run.status == 64, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains("Error: " + message), "\(arguments): \(run.stderr)")
        }
        let made = try CrmctlRun.run(["plugin", "new", "loyalty", "--lang", "c", "--output", work + "/l"],
                                     socket: CrmctlRun.nowhere)
        #expect(made.stdout == "wrote loyalty (c) in \(work)/l: cd \(work)/l && make\n")
    }

    /// `make install-sdk PREFIX=<work>/sdk`, built in the work dir; returns the prefix.
    private func installSDK(into work: String) throws -> String {
        let prefix = work + "/sdk"
        try run(["make", "-C", Self.repository, "install-sdk", "PREFIX=" + prefix, "BUILD=" + work + "/sdk-build"])
        return prefix
    }

    /// Loads the plugin from `built` (its .so and manifest) into a fresh crmd and
    /// calls the scaffold's methods: Reflection lists them from the plugin's
    /// descriptor set, CreateItem stores, GetItem reads, bad inputs get statuses.
    private func expectServed(plugin: String, built: String) async throws {
        let plugins = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: plugins) }
        for file in ["\(plugin).so", "\(plugin).plugin.json"] {
            try FileManager.default.copyItem(atPath: built + "/" + file, toPath: plugins + "/" + file)
        }
        let crmd = try CrmdProcess(plugins: [], arguments: ["--plugin-dir", plugins])
        let service = "/\(plugin).v1.\(plugin.prefix(1).uppercased() + plugin.dropFirst())/"
        let listing = try CrmctlRun.run(["services"], socket: crmd.socketPath)
        // What each method does comes from the .proto's options, through the descriptor set.
        for (method, semantics) in [("CreateItem", "writes, permission \(plugin).item.write"),
                                    ("GetItem", "reads, permission \(plugin).item.read")] {
            let line = "\(service)\(method)  \(plugin).v1.\(method)Request -> \(plugin).v1.Item  [\(semantics)]"
            #expect(listing.stdout.contains(line), "\(listing.stdout)\n\(crmd.log)")
        }

        let client = try crmd.connect()
        // Protobuf by hand: CreateItemRequest{text: "hello"}; Item{id: 1, text: "hello"}.
        let item: [UInt8] = [0x08, 1, 0x12, 5] + Array("hello".utf8)
        #expect(try await client.call(service + "CreateItem", [0x0A, 5] + Array("hello".utf8)) == item)
        #expect(try await client.call(service + "GetItem", [0x08, 1]) == item)
        await expectRPCError(.notFound, mentioning: "item 2 not found") {
            try await client.call(service + "GetItem", [0x08, 2])
        }
        await expectRPCError(.invalidArgument, mentioning: "text is required") {
            try await client.call(service + "CreateItem", [])
        }
        _ = try crmd.stop()
    }

    private func crmctl(_ arguments: [String]) throws {
        try run([CrmdProcess.buildDir + "/bin/crmctl"] + arguments)
    }

    /// Runs a command to its end, its output in a file; throws with the tail of
    /// that output when it fails.
    private func run(_ command: [String], environment: [String: String] = [:]) throws {
        let log = try CrmdProcess.makeTempDir() + "/output"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: (log as NSString).deletingLastPathComponent) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        // A `make test BUILD=...` above this test passes its variables down
        // in MAKEFLAGS: the scaffold's make must see none of them.
        var env = ProcessInfo.processInfo.environment.filter { !["MAKEFLAGS", "MFLAGS", "MAKELEVEL"].contains($0.key) }
        env.merge(environment) { $1 }
        process.environment = env
        let handle = FileHandle(forWritingAtPath: log)!
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        guard process.terminationStatus == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestFailure("\(command.joined(separator: " ")) exited \(process.terminationStatus):\n"
                              + output.split(separator: "\n").suffix(40).joined(separator: "\n"))
        }
    }
}
