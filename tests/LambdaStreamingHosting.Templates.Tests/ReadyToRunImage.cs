using System.IO.Compression;
using System.Reflection.PortableExecutable;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>Tells a ReadyToRun (precompiled) assembly from plain IL, and for which machine it was compiled.</summary>
internal static class ReadyToRunImage
{
    // crossgen2's Linux images: Machine = real machine XOR 0x7B79 (the runtime's IMAGE_FILE_MACHINE_NATIVE_OS_OVERRIDE).
    private const ushort LinuxMachineOverride = 0x7B79;

    /// <summary>Whether the assembly at <paramref name="path"/> is ReadyToRun, and the machine its native code is for.</summary>
    public static bool IsReadyToRun(string path, out Machine machine)
    {
        using var stream = File.OpenRead(path);
        return IsReadyToRun(stream, path, out machine);
    }

    /// <summary>Whether the package entry <paramref name="entryName"/> is a ReadyToRun assembly, and for which machine.</summary>
    public static bool IsReadyToRun(ZipArchive package, string entryName, out Machine machine)
    {
        var entry = package.GetEntry(entryName) ?? throw new Xunit.Sdk.XunitException($"the package has no {entryName}");
        using var image = new MemoryStream();
        using (var stream = entry.Open())
        {
            stream.CopyTo(image);
        }

        image.Position = 0;
        return IsReadyToRun(image, entryName, out machine);
    }

    private static bool IsReadyToRun(Stream image, string name, out Machine machine)
    {
        using var pe = new PEReader(image);
        // A ReadyToRun image is a managed assembly with a native header; crossgen also marks the machine it targets
        // (XOR-ed with an OS-specific value on Linux, so the header's machine alone does not say it).
        var corHeader = pe.PEHeaders.CorHeader ?? throw new Xunit.Sdk.XunitException($"{name} is not a managed assembly");
        if (corHeader.ManagedNativeHeaderDirectory.Size == 0)
        {
            machine = pe.PEHeaders.CoffHeader.Machine;
            return false;
        }

        machine = (Machine)((ushort)pe.PEHeaders.CoffHeader.Machine ^ LinuxMachineOverride);
        return true;
    }
}
