// expect: line 5: system task \$fopen is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  integer fd;
  assign sum = a + b;
  initial begin
    fd = $fopen("__SENTINEL__", "w");
    $fwrite(fd, "pwned");
  end
endmodule
