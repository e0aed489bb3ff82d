// Thin typed syscall wrappers, one file per kernel facility.
import CShaolin
