// shaolinctl's shell completion scripts: generated and installed by tools/install-completions.sh,
// then loaded into a real bash that completes subcommands and arguments.
import Foundation
import Testing

@Suite struct CompletionTests {
    @Test func installedBashCompletionCompletesSubcommandsAndArguments() throws {
        let lab = Lab("comp")
        let dest = "/tmp/shaolin-completions-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dest) }
        let (code, out) = try lab.spawn(["/bin/bash", Lab.repo.appendingPathComponent("tools/install-completions.sh").path, Lab.shaolinctl, dest])
        #expect(code == 0, "\(out)")
        for path in ["usr/share/bash-completion/completions/shaolinctl", "usr/share/zsh/vendor-completions/_shaolinctl",
                     "usr/share/fish/vendor_completions.d/shaolinctl.fish"] {
            let text = (try? String(contentsOfFile: "\(dest)/\(path)", encoding: .utf8)) ?? ""
            #expect(text.contains("fence-confirm") && text.contains("switchover"), "\(path) lacks the subcommands")
        }
        // Ask bash itself, the way it completes at a prompt.
        let script = """
            source \(dest)/usr/share/bash-completion/completions/shaolinctl
            f=$(complete -p shaolinctl | sed 's/.*-F \\([^ ]*\\).*/\\1/')
            complete_line() { COMP_LINE="$1"; COMP_POINT=${#1}; read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); "$f" shaolinctl "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; echo "${COMPREPLY[*]}"; }
            echo "fen: $(complete_line 'shaolinctl fen')"
            echo "maint: $(complete_line 'shaolinctl maintenance ')"
            """
        let (bashCode, bashOut) = try lab.spawn(["/bin/bash", "-c", script])
        #expect(bashCode == 0, "\(bashOut)")
        #expect(bashOut.contains("fen: fence-confirm"), "\(bashOut)")
        #expect(bashOut.contains("maint:") && bashOut.contains("on") && bashOut.contains("off"), "\(bashOut)")
    }
}
