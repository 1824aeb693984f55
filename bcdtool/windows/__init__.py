"""Windows layer: offline facts from an installed Windows (SYSTEM/SOFTWARE hives, volumes) and
the registry edits that prepare it for the serial console (crash dump on NMI, SAC helper)."""
