import ArgumentParser
import Foundation

struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Work on a plugin's source.",
        subcommands: [PluginNewCommand.self])
}

/// `crmctl plugin new NAME --lang c|swift`: writes a plugin that builds outside
/// the crm repository and that crmd loads as it is.
struct PluginNewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write a new plugin that builds outside the crm repository.",
        discussion: """
        Writes DIR (default ./NAME): the manifest, the .proto contract with its
        method options, the handlers (CreateItem and GetItem on a table of the
        plugin's own), a Makefile and test/smoke.sh.
          --lang c      builds with the installed SDK: `make install-sdk PREFIX=...`
                        in the crm repository, then pkg-config crm-plugin
          --lang swift  a Swift package on CRMPluginKit, by --kit-path (default
                        $CRM_KIT_PATH, else the checkout crmctl was built from)
                        or by --kit-url
        Examples:
          crmctl plugin new loyalty --lang c
          crmctl plugin new loyalty --lang swift --package acme.loyalty.v1 --output ~/src/loyalty
        """)

    enum Language: String, ExpressibleByArgument, CaseIterable {
        case c, swift
    }

    @Argument(help: "The plugin's name: 1-32 lowercase letters and digits, a letter first.")
    var name: String

    @Option(name: .long, help: "The language: c or swift.")
    var lang: Language

    @Option(name: .long, help: ArgumentHelp("The directory to write (default: ./NAME); must not exist or be empty.",
                                            valueName: "DIR"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("The contract's proto package (default: NAME.v1).", valueName: "PACKAGE"))
    var package: String?

    @Option(name: .long, help: ArgumentHelp("Swift: the crm repository checkout that has CRMPluginKit.",
                                            valueName: "PATH"))
    var kitPath: String?

    @Option(name: .long, help: ArgumentHelp("Swift: the crm repository's git URL (its main branch), instead of a path.",
                                            valueName: "URL"))
    var kitUrl: String?

    func validate() throws {
        _ = try ScaffoldNames(plugin: name, package: package)
        if kitPath != nil && kitUrl != nil { throw ValidationError("give --kit-path or --kit-url, not both") }
        if lang == .c && (kitPath != nil || kitUrl != nil) {
            throw ValidationError("--kit-path and --kit-url are for --lang swift")
        }
    }

    func run() throws {
        let names = try ScaffoldNames(plugin: name, package: package)
        let files: [ScaffoldFile]
        switch lang {
        case .c: files = ScaffoldC.files(names)
        case .swift: files = ScaffoldSwift.files(names, kit: try kit())
        }
        let directory = output ?? name
        try ScaffoldWriter.write(files, into: directory)
        print("wrote \(names.plugin) (\(lang.rawValue)) in \(directory): cd \(directory) && make")
    }

    /// --kit-url, --kit-path, $CRM_KIT_PATH, or the checkout crmctl was built
    /// from, if it is still there.
    private func kit() throws -> ScaffoldSwift.Kit {
        if let kitUrl { return .url(kitUrl) }
        let built = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let path = kitPath ?? ProcessInfo.processInfo.environment["CRM_KIT_PATH"] ?? built
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: absolute + "/Sources/CRMPluginKit") else {
            throw ValidationError("no CRMPluginKit in \(absolute): give --kit-path (a crm checkout) or --kit-url")
        }
        return .path(absolute)
    }
}

/// Writes a scaffold's files, refusing a directory that already has files.
enum ScaffoldWriter {
    static func write(_ files: [ScaffoldFile], into directory: String) throws {
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw ValidationError("\(directory) exists and is not empty")
        }
        for file in files {
            let path = directory + "/" + file.path
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(file.text.utf8).write(to: URL(fileURLWithPath: path))
            if file.executable { try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
        }
    }
}
