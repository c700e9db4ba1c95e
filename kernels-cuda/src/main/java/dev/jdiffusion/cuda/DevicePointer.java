package dev.jdiffusion.cuda;

import org.bytedeco.javacpp.Pointer;

/**
 * An address handed to the JavaCPP bindings as it is: a device address (which the host never dereferences),
 * or host memory that Java's foreign memory API owns. JavaCPP's own pointer classes allocate and free what they
 * point to; this one only names it.
 */
final class DevicePointer extends Pointer {
    DevicePointer(long address) {
        this.address = address;
    }
}
