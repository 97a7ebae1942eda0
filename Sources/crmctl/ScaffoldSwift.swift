/// `crmctl plugin new NAME --lang swift`: a Swift package whose dynamic
/// library is the plugin, on CRMPluginKit from the crm repository.
enum ScaffoldSwift {
    /// Where the package gets CRMPluginKit.
    enum Kit {
        case path(String)
        case url(String)

        /// SwiftPM's identity of the crm package: the last path component,
        /// without ".git", lowercased.
        var identity: String {
            let location: String
            switch self {
            case .path(let path): location = path
            case .url(let url): location = url
            }
            var last = location.split(separator: "/").last.map(String.init) ?? location
            if last.hasSuffix(".git") { last.removeLast(4) }
            return last.lowercased()
        }
    }

    /// The swift-protobuf line of crm's Package.swift: the generated code and
    /// the library the kit links must be of one version.
    static let swiftProtobuf = #".package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0")"#

    static func files(_ n: ScaffoldNames, kit: Kit) -> [ScaffoldFile] {
        ScaffoldCommon.files(n, language: "Swift", build: """
            Build it with protoc (Debian's protobuf-compiler and libprotobuf-dev) and protoc-gen-swift (crm's
            proto/generate.sh builds one; `make install-sdk PREFIX=...` installs it to PREFIX/bin):

            ```sh
            make PROTOC_GEN_SWIFT=path/to/protoc-gen-swift
            make smoke CRMD=path/to/crmd CRMCTL=path/to/crmctl
            ```
            """) + [
            ScaffoldFile(path: "Package.swift", text: package(n, kit: kit)),
            ScaffoldFile(path: "Makefile", text: makefile(n, kit: kit)),
            ScaffoldFile(path: "Sources/\(n.swiftTarget)/\(n.service).swift", text: source(n)),
        ]
    }

    static func package(_ n: ScaffoldNames, kit: Kit) -> String {
        let kitLine: String
        switch kit {
        case .path(let path): kitLine = ".package(path: \"\(path)\")"
        case .url(let url): kitLine = ".package(url: \"\(url)\", branch: \"main\")"
        }
        return #"""
        // swift-tools-version: 6.0
        import PackageDescription

        // The \#(n.plugin) plugin: a dynamic library that crmd dlopens. It carries its own
        // copy of its Swift dependencies; -Bsymbolic binds its references to that copy,
        // never to crmd's or another plugin's.
        let package = Package(
            name: "\#(n.plugin)",
            products: [
                .library(name: "\#(n.plugin)", type: .dynamic, targets: ["\#(n.swiftTarget)"]),
            ],
            dependencies: [
                // CRMPluginKit, from the crm repository.
                \#(kitLine),
                // The version crm builds with: the generated code and the kit's library agree.
                \#(swiftProtobuf),
            ],
            targets: [
                .target(
                    name: "\#(n.swiftTarget)",
                    dependencies: [
                        .product(name: "CRMPluginKit", package: "\#(kit.identity)"),
                        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                    ],
                    linkerSettings: [.unsafeFlags(["-Xlinker", "-Bsymbolic"])]
                ),
            ],
            swiftLanguageModes: [.v5]
        )

        """#
    }

    static func makefile(_ n: ScaffoldNames, kit: Kit) -> String {
        let protoDir: String
        switch kit {
        case .path(let path): protoDir = path + "/proto"
        case .url: protoDir = "$(shell pkg-config --variable=protodir crm-plugin)"
        }
        let gen = "Sources/\(n.swiftTarget)/Generated"
        return #"""
        # Builds the \#(n.plugin) plugin (Swift, on CRMPluginKit):
        #   make            the contract's Swift code, then build/\#(n.plugin).so and its manifest
        #   make smoke      loads it into crmd and calls it (CRMD=..., CRMCTL=...)
        #   make install PLUGIN_DIR=/path/to/crmd/plugins
        # Needs protoc and protoc-gen-swift: PROTOC_GEN_SWIFT=path, else one on PATH or
        # in the SDK's PREFIX/bin (`make install-sdk PREFIX=...` in the crm repository).
        NAME = \#(n.plugin)
        PROTO = \#(n.protoPath)
        SWIFT ?= swift
        PROTOC ?= protoc
        CONFIG ?= debug
        # Where crm/options/v1/options.proto is.
        CRM_PROTO ?= \#(protoDir)
        PROTOC_GEN_SWIFT ?= $(or $(shell command -v protoc-gen-swift),$(shell pkg-config --variable=bindir crm-plugin 2>/dev/null)/protoc-gen-swift)
        CRMD ?= crmd
        CRMCTL ?= crmctl
        BUILD = build
        GEN = \#(gen)

        .PHONY: all contract smoke install clean

        all: $(BUILD)/$(NAME).so $(BUILD)/$(NAME).plugin.json

        # The contract's types, and its FileDescriptorSet with every file it imports
        # (crmd reads each rpc's options from it) as a Swift byte array.
        contract: $(GEN)/DescriptorSet.swift
        $(GEN)/DescriptorSet.swift: proto/$(PROTO)
        \#t@[ -x "$(PROTOC_GEN_SWIFT)" ] || { echo "no protoc-gen-swift at '$(PROTOC_GEN_SWIFT)': set PROTOC_GEN_SWIFT=path"; exit 1; }
        \#t@mkdir -p $(GEN) $(BUILD)
        \#t$(PROTOC) --plugin=protoc-gen-swift=$(PROTOC_GEN_SWIFT) -I proto -I $(CRM_PROTO) --swift_out=$(GEN) $(PROTO)
        \#t$(PROTOC) -I proto -I $(CRM_PROTO) --include_imports --descriptor_set_out=$(BUILD)/$(NAME).binpb $(PROTO)
        \#t{ echo "// Generated by make from proto/$(PROTO). Do not edit."; echo "import Foundation"; echo; \
        \#t  echo "/// The serialized FileDescriptorSet of proto/$(PROTO) and the files it imports."; \
        \#t  echo "let $(NAME)DescriptorSet: [UInt8] = Array(Data(base64Encoded: ["; \
        \#t  base64 -w 100 $(BUILD)/$(NAME).binpb | sed 's/.*/    "&",/'; \
        \#t  echo "].joined())!)"; } >$@

        $(BUILD)/$(NAME).so: $(GEN)/DescriptorSet.swift Package.swift $(wildcard Sources/*/*.swift)
        \#t$(SWIFT) build -c $(CONFIG) --product $(NAME)
        \#t@mkdir -p $(BUILD)
        \#tcp "$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/lib$(NAME).so" $@

        """# + ScaffoldCommon.makefileTail(clean: "$(BUILD) .build $(GEN)")
    }

    static func source(_ n: ScaffoldNames) -> String {
        let type = n.swiftTypePrefix, table = "\(n.plugin)_items"
        return #"""
        import CRMPluginABI
        import CRMPluginKit

        /// The \#(n.plugin) plugin: CreateItem stores a text in \#(table), GetItem reads
        /// it back. Its contract is proto/\#(n.protoPath): the options there say which
        /// method writes, and crmd refuses the plugin if its handlers and that file disagree.
        enum \#(n.service) {
            static let service = "\#(n.methodPrefix)"

            static let definition: PluginDefinition = {
                let def = PluginDefinition(name: "\#(n.plugin)", version: "0.1.0", summary: "\#(n.plugin) plugin")
                def.descriptorSet = \#(n.plugin)DescriptorSet
                // Tables are named \#(n.plugin)_...: crmd lets the plugin reach no others.
                def.migration(1, "items", "CREATE TABLE \#(table) (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
                def.unary(service + "CreateItem", createItem)
                def.unary(service + "GetItem", getItem)
                return def
            }()

            static func createItem(_ ctx: CallContext, _ req: \#(type)CreateItemRequest) throws -> \#(type)Item {
                guard !req.text.isEmpty else { throw PluginError.invalidArgument("text is required") }
                let inserted = try ctx.database.execute("INSERT INTO \#(table) (text) VALUES (?)", [.text(req.text)])
                return .with {
                    $0.id = UInt64(inserted.lastInsertID)
                    $0.text = req.text
                }
            }

            static func getItem(_ ctx: CallContext, _ req: \#(type)GetItemRequest) throws -> \#(type)Item {
                guard let id = Int64(exactly: req.id),
                      let text = try ctx.database.query("SELECT text FROM \#(table) WHERE id = ?", [.integer(id)])
                          .first?.first?.string
                else { throw PluginError.notFound("item \(req.id) not found") }
                return .with {
                    $0.id = req.id
                    $0.text = text
                }
            }
        }

        @_cdecl("crm_plugin_entry")
        public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
            \#(n.service).definition.export(hostABI: abi, host: host)
        }

        """#
    }
}
