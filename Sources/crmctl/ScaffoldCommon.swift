/// One file a scaffold writes, relative to its directory.
struct ScaffoldFile {
    var path: String
    var text: String
    var executable = false
}

/// The files every scaffold has, whatever its language: the contract, the
/// manifest, the smoke test and a README.
enum ScaffoldCommon {
    static func files(_ n: ScaffoldNames, language: String, build: String) -> [ScaffoldFile] {
        [
            ScaffoldFile(path: "proto/" + n.protoPath, text: proto(n)),
            ScaffoldFile(path: "\(n.plugin).plugin.json", text: manifest(n)),
            ScaffoldFile(path: "test/smoke.sh", text: smoke(n), executable: true),
            ScaffoldFile(path: "README.md", text: readme(n, language: language, build: build)),
            ScaffoldFile(path: ".gitignore", text: "/build/\n/.build/\nPackage.resolved\n"),
        ]
    }

    static func proto(_ n: ScaffoldNames) -> String {
        #"""
        // The contract of the \#(n.plugin) plugin. What each rpc does is declared in
        // its (crm.options.v1.method) option; crmd reads them from the plugin's
        // descriptor set and refuses the plugin if its handlers and this file disagree.
        // Permissions start with the plugin's name: <plugin>.<entity>.<action>.
        syntax = "proto3";

        package \#(n.package);

        import "crm/options/v1/options.proto";

        service \#(n.service) {
          // Stores an item. Statuses: OK; INVALID_ARGUMENT for an empty text;
          // a storage failure's own status.
          rpc CreateItem(CreateItemRequest) returns (Item) {
            option \#(n.methodOption) = {writes: true, permission: "\#(n.plugin).item.write"};
          }
          // Statuses: OK; NOT_FOUND for an id no item has.
          rpc GetItem(GetItemRequest) returns (Item) {
            option \#(n.methodOption) = {permission: "\#(n.plugin).item.read"};
          }
        }

        message Item {
          uint64 id = 1;
          string text = 2;
        }

        message CreateItemRequest {
          string text = 1;
        }

        message GetItemRequest {
          uint64 id = 1;
        }

        """#
    }

    /// The Makefile's last rules, alike in every language: the manifest copied
    /// beside the library, smoke, install, and clean, which removes `clean`.
    static func makefileTail(clean: String) -> String {
        #"""
        $(BUILD)/$(NAME).plugin.json: $(NAME).plugin.json
        \#t@mkdir -p $(BUILD)
        \#tcp $< $@

        smoke: all
        \#tCRMD="$(CRMD)" CRMCTL="$(CRMCTL)" test/smoke.sh $(BUILD)

        install: all
        \#t@[ -n "$(PLUGIN_DIR)" ] || { echo "make install PLUGIN_DIR=<crmd's plugin directory>"; exit 1; }
        \#tinstall -m 644 $(BUILD)/$(NAME).so $(BUILD)/$(NAME).plugin.json "$(PLUGIN_DIR)/"

        clean:
        \#trm -rf \#(clean)

        """#
    }

    static func manifest(_ n: ScaffoldNames) -> String {
        #"""
        {
          "name": "\#(n.plugin)",
          "version": "0.1.0",
          "abi_version": 1,
          "library": "\#(n.plugin).so",
          "description": "\#(n.plugin) plugin",
          "dependencies": []
        }

        """#
    }

    static func smoke(_ n: ScaffoldNames) -> String {
        #"""
        #!/bin/sh
        # Smoke test: loads the plugin built in $1 (default build) into a crmd of its
        # own, on a socket in a temp dir, and calls CreateItem then GetItem through
        # `crmctl call --base64`. CRMD and CRMCTL name the binaries (default: PATH).
        set -eu
        build=${1:-build}
        crmd=${CRMD:-crmd}
        crmctl=${CRMCTL:-crmctl}
        service=\#(n.methodPrefix.dropLast())
        dir=$(mktemp -d)
        pid=""
        trap '[ -z "$pid" ] || { kill "$pid"; wait "$pid" || true; }; rm -rf "$dir"' EXIT
        mkdir "$dir/plugins"
        cp "$build/\#(n.plugin).so" "$build/\#(n.plugin).plugin.json" "$dir/plugins/"
        "$crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" \
          --log-level warning 2>"$dir/crmd.log" &
        pid=$!
        for _ in $(seq 100); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
        export CRM_SOCKET="$dir/crm.sock"

        # Protobuf by hand: CreateItemRequest{text: "hello"} is field 1, 5 bytes;
        # the answer Item{id: 1, text: "hello"} is field 1 = 1, then field 2.
        expect() { # <method> <request bytes> <answer bytes>
          got=$("$crmctl" call --base64 "$service/$1" "$(printf "$2" | base64)") || {
            echo "smoke: $1 failed; crmd's log:"; cat "$dir/crmd.log"; exit 1; }
          [ "$got" = "$(printf "$3" | base64)" ] || { echo "smoke: $1 answered $got"; exit 1; }
        }
        expect CreateItem '\n\005hello' '\010\001\022\005hello'
        expect GetItem '\010\001' '\010\001\022\005hello'
        echo "smoke: \#(n.plugin) answers CreateItem and GetItem over crmd's socket"

        """#
    }

    static func readme(_ n: ScaffoldNames, language: String, build: String) -> String {
        #"""
        # \#(n.plugin)

        A crmd plugin in \#(language), made by `crmctl plugin new`.

        - `proto/\#(n.protoPath)`: the contract; each rpc's options say whether it
          writes and which permission it needs.
        - `\#(n.plugin).plugin.json`: the manifest crmd reads before loading the library.
        - `test/smoke.sh`: loads the plugin into a crmd of its own and calls it.

        \#(build)

        Then copy `build/\#(n.plugin).so` and `build/\#(n.plugin).plugin.json` into
        crmd's plugin directory (`make install PLUGIN_DIR=...`) and restart crmd.
        See "Writing a plugin outside the repository" in crm's docs/PLUGINS.md.

        """#
    }
}
