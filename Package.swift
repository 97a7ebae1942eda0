// swift-tools-version: 6.0
import PackageDescription

// Plugins are dlopened into crmd and each carries its own copy of its Swift
// dependencies. -Bsymbolic binds a plugin's references to its own copies, so a
// plugin never half-uses the copy that crmd (or another plugin) exports.
let pluginLinkerSettings: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "-Bsymbolic"])]

let package = Package(
    name: "crm",
    products: [
        .executable(name: "crmd", targets: ["crmd"]),
        .executable(name: "crmctl", targets: ["crmctl"]),
        .library(name: "CRMClient", targets: ["CRMClient"]),
        .library(name: "CRMPluginKit", targets: ["CRMPluginKit"]),
        // First-party plugins: Plugins/<name>, product crm-plugin-<name>.
        .library(name: "crm-plugin-contacts", type: .dynamic, targets: ["ContactsPlugin"]),
        .library(name: "crm-plugin-sales", type: .dynamic, targets: ["SalesPlugin"]),
        // Test fixture: a Swift plugin built on the plugin kit.
        .library(name: "crm-plugin-probe", type: .dynamic, targets: ["ProbePlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // The plain-C plugin ABI (sdk/c/include/crm/plugin.h), importable from Swift.
        .target(
            name: "CRMPluginABI",
            path: "sdk/c",
            exclude: ["src/crm_pbc.c", "test"],
            sources: ["src/crm_abi.c"],
            publicHeadersPath: "include"
        ),
        // The system's libsqlite3 (Debian: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Generated swift-protobuf code for the wire, the kernel services and
        // every first-party contract (see proto/generate.sh).
        .target(
            name: "CRMProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "CRMWire",
            dependencies: [
                "CRMProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "CRMKernel",
            dependencies: [
                "CRMWire", "CRMProto", "CRMPluginABI", "CSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "crmd",
            dependencies: [
                "CRMKernel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CRMClient",
            dependencies: [
                "CRMWire", "CRMProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "crmctl",
            dependencies: [
                "CRMClient", "CRMProto", "CRMWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "CRMPluginKit",
            dependencies: [
                "CRMPluginABI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "ProbePlugin",
            dependencies: ["CRMPluginKit"],
            path: "Tests/Fixtures/ProbePlugin",
            exclude: ["probe.plugin.json"],
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "ContactsPlugin",
            dependencies: ["CRMPluginKit"],
            path: "Plugins/contacts",
            exclude: ["contacts.plugin.json"],
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "SalesPlugin",
            dependencies: ["CRMPluginKit"],
            path: "Plugins/sales",
            exclude: ["sales.plugin.json"],
            linkerSettings: pluginLinkerSettings
        ),
        .testTarget(
            name: "CRMWireTests",
            dependencies: ["CRMWire", "CRMProto"]
        ),
        .testTarget(
            name: "CRMPluginKitTests",
            dependencies: ["CRMPluginKit"]
        ),
        .testTarget(
            name: "CRMIntegrationTests",
            dependencies: ["CRMClient", "CRMWire", "CRMProto", "CSQLite"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
