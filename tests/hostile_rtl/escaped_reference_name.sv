// expect: line 2: name RefModule \(written \\RefModule\) belongs to the testbench or the reference
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  \RefModule  copy (.a(a), .b(b), .sum(sum));
endmodule
