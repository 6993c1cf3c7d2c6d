import Foundation
import VaneFuzz

// vane-fuzz TARGET [ARGS…]. Built by scripts/fuzz.sh with -sanitize=fuzzer -DVANE_LIBFUZZER, ARGS go to
// libFuzzer. In an ordinary build ARGS are files or folders of inputs, each run once (replay), so that the
// package builds and the regression inputs run without libFuzzer.

#if VANE_LIBFUZZER
// libFuzzer's entry point for a program with its own main (SwiftPM renames an executable's main, so libFuzzer's
// main cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

let arguments = CommandLine.arguments
guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
    FileHandle.standardError.write(Data(
        "usage: vane-fuzz TARGET [ARGS…]; targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
    exit(2)
}
// The callback is a C function pointer and cannot capture; it reads the target from here.
nonisolated(unsafe) var selected = target

#if VANE_LIBFUZZER
// libFuzzer sees the target's -max_len, then the arguments after the target name (a later flag wins).
let libFuzzerArguments = [arguments[0], "-max_len=\(target.maxLength)"] + arguments.dropFirst(2)
var argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: libFuzzerArguments.count + 1)
argv.initialize(from: libFuzzerArguments.map { strdup($0) } + [nil], count: libFuzzerArguments.count + 1)
var argc = CInt(libFuzzerArguments.count)
exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in
    selected.run(size == 0 ? Data() : Data(bytes: data!, count: size))
    return 0
}))
#else
var count = 0
for path in arguments.dropFirst(2) {
    var isFolder: ObjCBool = false
    let url = URL(fileURLWithPath: path)
    _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
    for file in isFolder.boolValue ? FuzzCorpus.files(in: url) : [url] {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            FileHandle.standardError.write(Data("vane-fuzz: cannot read \(file.path)\n".utf8))
            exit(1)
        }
        target.run(data)
        count += 1
    }
}
print("vane-fuzz \(target.rawValue): replayed \(count) inputs")
#endif
